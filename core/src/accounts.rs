//! Sign-up, log-in and profile changes.

use sqlx::{Any, Transaction};

use crate::audit::Event;
use crate::codes::Purpose;
use crate::config::Feature;
use crate::db::StoreError;
use crate::email_change::address_reserved_in;
use crate::error::{Error, ErrorCode, Reason};
use crate::hashing::Verified;
use crate::limits::Rate;
use crate::login_end::LoginEnd;
use crate::model::{EventKind, EventReason, Role, User};
use crate::second_factor;
use crate::sessions::{revoke_user_sessions_in, Issued};
use crate::throttle::Subject;
use crate::user_store::{self, NewUser, UserRow};
use crate::{now, password_policy, validate, Auth, ClientInfo, Services};

/// Longest password we will even hash on log-in (the policy caps new ones at 128).
const MAX_LOGIN_PASSWORD: usize = 1024;

impl Services {
    /// Each sign-up costs a hash and a row: a client address gets a few an
    /// hour, counted before any work (both kinds of sign-up).
    pub(crate) async fn limit_signups(&self, client: &ClientInfo) -> Result<(), Error> {
        match client.limit_key() {
            Some(ip) => {
                self.limit(
                    &format!("rl:signup:ip:{ip}"),
                    Rate::per_hour(self.config.signups_per_hour_per_ip),
                )
                .await
            }
            None => Ok(()),
        }
    }

    /// Checks a new account's details and hashes its password (before any
    /// transaction: hashing takes a while).
    /// `password`: `None` for an account without one (it signs in with a
    /// passkey or an emailed code, and may set one later).
    pub(crate) async fn prepare_account(
        &self,
        email: &str,
        username: &str,
        password: Option<String>,
    ) -> Result<NewAccount, Error> {
        let email = validate::email(email)?;
        let username = validate::username(username)?;
        let password_hash = match password {
            Some(password) => {
                password_policy::check(&password, self.config.min_password_len, &email, &username)?;
                self.hasher.hash(password).await?
            }
            None => String::new(),
        };
        Ok(NewAccount {
            email,
            username,
            password_hash,
        })
    }

    /// The id of the device cookie `client` carries, when it is genuine and
    /// was given for `user` since its password last changed.
    pub(crate) fn known_device<'c>(
        &self,
        user: &UserRow,
        client: &'c ClientInfo,
    ) -> Option<&'c str> {
        let token = client.device.as_deref()?;
        let (owner, device) = self.tokens.device_of(token, &user.password_hash)?;
        (owner == user.id).then_some(device)
    }

    /// Refuses `feature` to an unverified account when the operator reserved
    /// it for verified addresses.
    pub(crate) fn require_verified(&self, auth: &Auth, feature: Feature) -> Result<(), Error> {
        if auth.user.email_verified || !self.config.verified_only.contains(&feature) {
            return Ok(());
        }
        Err(Error::of(ErrorCode::EmailUnverified, Reason::VerifyFirst))
    }

    /// The first proof that an account's address is its owner's. Until
    /// then, whoever signed up may have used another person's address and
    /// kept its password and sessions (a pre-account hijack), so every
    /// session but `keep` ends and, when the proof did not involve the
    /// password (`clear_password`), the password is cleared: the owner signs
    /// in by code, or sets one with a reset link. Of two racing proofs, one
    /// does this; it is logged.
    pub(crate) async fn first_proof(
        &self,
        user_id: &str,
        keep: Option<&str>,
        clear_password: bool,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let now = now();
        let mut tx = self.db.begin().await?;
        let assignment = if clear_password {
            "email_verified = 1, password_hash = ''"
        } else {
            "email_verified = 1"
        };
        let claimed = sqlx::query(&format!(
            "UPDATE users SET {assignment}, updated_at = $1 WHERE id = $2 AND email_verified = 0"
        ))
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if claimed.rows_affected() == 0 {
            return Ok(());
        }
        let ended = revoke_user_sessions_in(&mut tx, user_id, keep, "address_proven", now).await?;
        if clear_password {
            let why =
                Event::new(EventKind::PasskeyRemoved, client).reason(EventReason::AddressProven);
            self.remove_passkeys_in(&mut tx, user_id, why).await?;
        }
        // An app set up before the address was proven was set up by
        // whoever signed up, maybe not its owner: it goes with the password.
        if clear_password && second_factor::remove_in(&mut tx, user_id, 0).await? {
            let removed = Event::new(EventKind::SecondFactorRemoved, client)
                .user(user_id)
                .reason(EventReason::AddressProven);
            self.record_in(&mut tx, removed).await?;
        }
        let mut verified = Event::new(EventKind::EmailVerified, client).user(user_id);
        if clear_password {
            verified = verified.reason(EventReason::PasswordCleared);
        }
        self.record_in(&mut tx, verified).await?;
        if ended > 0 {
            let event = Event::new(EventKind::SessionRevoked, client)
                .user(user_id)
                .reason(EventReason::AddressProven)
                .detail(ended.to_string());
            self.record_in(&mut tx, event).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(user_id).await;
        Ok(())
    }

    /// Opens a session after a successful log-in, and logs it.
    pub(crate) async fn signed_in(
        &self,
        user: &UserRow,
        method: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        let mut tx = self.db.begin().await?;
        let issued = self.start_session_in(&mut tx, user, method, client).await?;
        self.logged_in_in(&mut tx, user, method, client).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok((user.to_user(), issued))
    }

    /// Refuses a sign-in to a disabled account, once its credentials were
    /// proven (so the refusal says nothing to someone guessing), and logs it.
    pub(crate) async fn refuse_disabled<T>(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<T, Error> {
        self.record(
            Event::new(EventKind::LoginFailed, client)
                .user(user_id)
                .reason(EventReason::Disabled),
        )
        .await?;
        Err(Error::account_disabled())
    }
}

impl crate::Accounts<'_> {
    pub async fn signup(
        &self,
        email: &str,
        username: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        self.open_account(email, username, Some(password), client)
            .await
    }

    /// `signup`, for an account with or without a password.
    pub(crate) async fn open_account(
        &self,
        email: &str,
        username: &str,
        password: Option<String>,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        self.limit_signups(client).await?;
        // A passwordless account's first session proves nothing yet (it
        // claims no `amr`).
        let method = if password.is_some() { "signup" } else { "new" };
        let account = self.prepare_account(email, username, password).await?;
        // The account, its log entry and its first session: all or nothing,
        // so an outage mid-way leaves no account its owner cannot use.
        let mut tx = self.db.begin().await?;
        let user = match account.insert_in(&mut tx, Role::User, client).await {
            Ok(user) => user,
            // Both taken: which unique index the database happens to check
            // first must not decide the answer. The email wins. (The
            // transaction ends first: on SQLite it holds the write lock.)
            Err(err) if err.code == ErrorCode::UsernameTaken => {
                drop(tx);
                if user_store::by_login(&self.db, &account.email)
                    .await?
                    .is_some()
                {
                    return Err(conflict_to_field(StoreError::Conflict("email".into())));
                }
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        self.record_in(
            &mut tx,
            Event::new(EventKind::SignUp, client).user(&user.id),
        )
        .await?;
        let issued = self
            .start_session_in(&mut tx, &user, method, client)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        // The account exists either way; a refused send (rate limit, store
        // down) only means the user asks for the code again.
        if let Err(err) = self
            .send_code(
                Purpose::VerifyEmail,
                &user.email,
                (&user.id, &user.locale),
                client,
            )
            .await
        {
            tracing::warn!(code = ?err.code, cause = ?err.cause, "sign-up: verification code not sent");
        }
        Ok((user.to_user(), issued))
    }

    /// Logs in by email or username. Unknown account and wrong password give
    /// the same answer after the same work; a disabled account is only
    /// reported to someone who knows its password.
    pub async fn login(
        &self,
        login: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        let login = login.trim().to_lowercase();
        // An address is looked up in its stored spelling (IDNA domain).
        let login = match login.contains('@') {
            true => validate::email(&login).unwrap_or(login),
            false => login,
        };
        if login.is_empty() {
            return Err(Error::invalid("login", Reason::LoginMissing));
        }
        if password.is_empty() {
            return Err(Error::invalid("password", Reason::PasswordMissing));
        }
        // Longer than any valid email or username: no account has it, and
        // no store key is made of it.
        if login.len() > validate::MAX_LOGIN_LEN {
            return Err(Error::of(
                ErrorCode::InvalidCredentials,
                Reason::WrongCredentials,
            ));
        }
        let row = user_store::by_login(&self.db, &login).await?;
        let device = row.as_ref().and_then(|r| self.known_device(r, client));
        let subject = match (&row, device) {
            (Some(_), Some(device)) => Subject::Device(device),
            (Some(row), None) => Subject::Account(&row.id),
            (None, _) => Subject::Name(&login),
        };
        let ticket = match self.login_attempt(subject, client).await {
            Ok(ticket) => ticket,
            Err(err) => {
                metrics::counter!("latchkey_logins_total", "outcome" => "throttled").increment(1);
                return Err(err);
            }
        };
        let stored = row
            .as_ref()
            // No password (cleared): checked against the dummy hash, like an
            // unknown account, in the same time.
            .filter(|r| password.len() <= MAX_LOGIN_PASSWORD && !r.password_hash.is_empty())
            .map(|r| r.password_hash.clone());
        let verified = match self
            .hasher
            .verify(truncate_for_hash(password), stored)
            .await
        {
            Ok(verified) => verified,
            // Nothing was checked (the hash queue is full): the attempt
            // must not count against the account or the address.
            Err(err) => {
                self.login_succeeded(ticket).await?;
                return Err(err);
            }
        };
        let (Some(user), Verified::Match { rehash }) = (&row, verified) else {
            metrics::counter!("latchkey_logins_total", "outcome" => "invalid_credentials")
                .increment(1);
            let user_id = row.as_ref().map(|r| r.id.as_str());
            let mut event = Event::new(EventKind::LoginFailed, client);
            event = match user_id {
                Some(id) => event.user(id).reason(EventReason::WrongPassword),
                None => event.reason(EventReason::UnknownAccount),
            };
            self.record(event).await?;
            self.login_failed(ticket, user_id, client).await?;
            return Err(Error::of(
                ErrorCode::InvalidCredentials,
                Reason::WrongCredentials,
            ));
        };
        self.login_succeeded(ticket).await?;
        if user.is_disabled() {
            metrics::counter!("latchkey_logins_total", "outcome" => "disabled").increment(1);
            return self.refuse_disabled(&user.id, client).await;
        }
        match self
            .end_password_login(user, rehash.as_deref(), client)
            .await?
        {
            LoginEnd::Opened(issued) => {
                metrics::counter!("latchkey_logins_total", "outcome" => "success").increment(1);
                Ok((user.to_user(), issued))
            }
            LoginEnd::Changed => Err(Error::of(
                ErrorCode::InvalidCredentials,
                Reason::WrongCredentials,
            )),
            // Disabled while this log-in was hashing: refused like one that
            // was disabled before.
            LoginEnd::Disabled => {
                metrics::counter!("latchkey_logins_total", "outcome" => "disabled").increment(1);
                self.refuse_disabled(&user.id, client).await
            }
            LoginEnd::SecondFactor => {
                metrics::counter!("latchkey_logins_total", "outcome" => "second_factor")
                    .increment(1);
                let user = UserRow {
                    password_hash: rehash.unwrap_or_else(|| user.password_hash.clone()),
                    ..user.clone()
                };
                Err(self.challenge(&user, "password", device).await)
            }
        }
    }

    /// A device cookie's value for a browser that just signed in to
    /// `user_id`, unless it already carries a live one for that account.
    pub async fn device_token(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<Option<String>, Error> {
        let Some(user) = user_store::by_id(&self.db, user_id).await? else {
            return Ok(None);
        };
        Ok(self
            .known_device(&user, client)
            .is_none()
            .then(|| self.tokens.device_token(&user.id, &user.password_hash)))
    }

    /// Mails a new verification code to the signed-in user.
    pub async fn send_verification(&self, auth: &Auth, client: &ClientInfo) -> Result<(), Error> {
        if auth.user.email_verified {
            return Err(Error::invalid("code", Reason::AlreadyVerified));
        }
        self.send_code(
            Purpose::VerifyEmail,
            &auth.user.email,
            (&auth.user.id, &auth.user.locale),
            client,
        )
        .await
    }

    /// Marks the email verified when `code` is the one mailed to it.
    pub async fn verify_email(
        &self,
        auth: &Auth,
        code: &str,
        client: &ClientInfo,
    ) -> Result<User, Error> {
        if auth.user.email_verified {
            return Ok(auth.user.clone());
        }
        self.codes()
            .check_code(
                Purpose::VerifyEmail,
                &auth.user.email,
                Some(&auth.user.id),
                code,
                client,
            )
            .await?;
        // The person here knows the password (they signed in with it) and
        // reads the mailbox: the password stays, other sessions end.
        self.first_proof(&auth.user.id, Some(&auth.session_id), false, client)
            .await?;
        Ok(User {
            email_verified: true,
            ..auth.user.clone()
        })
    }

    /// Passwordless sign-in, step one. Answers the same, in the same time,
    /// whether or not the address has an account: every address gets the
    /// cooldown, the limits and a stored code; only an account's owner is
    /// mailed theirs, after the answer. An unknown address's code is a
    /// decoy nobody is sent, so wrong tries, dead codes and limits behave
    /// alike on both sides.
    pub async fn request_signin_code(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<String, Error> {
        let email = validate::email(email)?;
        let account = user_store::by_login(&self.db, &email)
            .await?
            .filter(|user| !user.is_disabled());
        let code = self
            .issue_code(Purpose::SignIn, &email, None, client)
            .await?;
        if let Some(user) = account {
            let services = Services::clone(self);
            let (address, client) = (email.clone(), client.clone());
            tokio::spawn(async move {
                let owner = (user.id.as_str(), user.locale.as_str());
                if let Err(err) = services
                    .mail_code(Purpose::SignIn, &address, owner, &code, &client)
                    .await
                {
                    tracing::warn!(code = ?err.code, cause = ?err.cause, "sign-in code not mailed");
                }
            });
        }
        Ok(email)
    }

    /// Passwordless sign-in, step two.
    pub async fn signin_with_code(
        &self,
        email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        let email = validate::email(email)?;
        // Looked up first, so a failed try is logged against the account;
        // every answer does this lookup, so its time tells nothing.
        let account = user_store::by_login(&self.db, &email).await?;
        let user_id = account.as_ref().map(|u| u.id.as_str());
        self.codes()
            .check_code(Purpose::SignIn, &email, user_id, code, client)
            .await?;
        let user = account
            .ok_or_else(|| Error::of(ErrorCode::CodeExpired, Reason::CodeExpired).on("code"))?;
        if user.is_disabled() {
            return self.refuse_disabled(&user.id, client).await;
        }
        // The code proved the address is theirs; a password set before by
        // someone else proves nothing.
        let user = match user.email_verified {
            0 => {
                self.first_proof(&user.id, None, true, client).await?;
                UserRow {
                    email_verified: 1,
                    password_hash: String::new(),
                    ..user
                }
            }
            _ => user,
        };
        let mut tx = self.db.begin().await?;
        let second = second_factor::required_in(&mut tx, &user.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if second {
            return Err(self.challenge(&user, "code", None).await);
        }
        self.signed_in(&user, "code", client).await
    }

    /// Keeps `tag` (`en`, `ko`) as the language the account's mail is in.
    pub async fn set_locale(&self, auth: &Auth, tag: &str) -> Result<(), Error> {
        if auth.user.locale != tag {
            user_store::set_locale(&self.db, &auth.user.id, tag, now()).await?;
            self.forget_user(&auth.user.id).await;
        }
        Ok(())
    }

    pub async fn update_username(&self, auth: &Auth, username: &str) -> Result<User, Error> {
        self.require_verified(auth, Feature::ChangeUsername)?;
        let username = validate::username(username)?;
        if username == auth.user.username {
            return Ok(auth.user.clone());
        }
        user_store::set_username(&self.db, &auth.user.id, &username, now())
            .await
            .map_err(conflict_to_field)?;
        self.forget_user(&auth.user.id).await;
        let event = Event::new(EventKind::UsernameChanged, &auth.client)
            .user(&auth.user.id)
            .detail(format!("{} → {username}", auth.user.username));
        self.record(event).await?;
        Ok(User {
            username,
            ..auth.user.clone()
        })
    }
}

/// Over-long passwords still cost one hash (of a bounded prefix), so their
/// timing says nothing about the account.
fn truncate_for_hash(mut password: String) -> String {
    if password.len() > MAX_LOGIN_PASSWORD {
        let mut end = MAX_LOGIN_PASSWORD;
        while !password.is_char_boundary(end) {
            end -= 1;
        }
        password.truncate(end);
    }
    password
}

/// A new account's checked details, ready to store.
pub(crate) struct NewAccount {
    email: String,
    username: String,
    password_hash: String,
}

impl NewAccount {
    /// An account checked and hashed earlier (a pending sign-up's).
    pub(crate) fn from_parts(email: String, username: String, password_hash: String) -> Self {
        Self {
            email,
            username,
            password_hash,
        }
    }

    /// The address as it will be stored.
    pub(crate) fn email(&self) -> &str {
        &self.email
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn password_hash(&self) -> &str {
        &self.password_hash
    }

    /// Stores the account, its mail in the language `client` asked for;
    /// the unique indexes decide duplicates. An address another account may
    /// still take back (a live revert link) counts as taken.
    pub(crate) async fn insert_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        role: Role,
        client: &ClientInfo,
    ) -> Result<UserRow, Error> {
        let new = NewUser {
            email: &self.email,
            username: &self.username,
            password_hash: &self.password_hash,
            role,
            locale: client.locale,
        };
        let user = user_store::insert(&mut **tx, new, now())
            .await
            .map_err(conflict_to_field)?;
        // After the write, in its transaction: a revert link committed by
        // now is seen, and one committing later waited on this row.
        if address_reserved_in(&mut **tx, &self.email, None, now()).await? {
            return Err(conflict_to_field(StoreError::Conflict("email".into())));
        }
        Ok(user)
    }
}

/// Turns a unique-index refusal into the field error a form shows.
pub(crate) fn conflict_to_field(err: StoreError) -> Error {
    match err {
        StoreError::Conflict(name) if name.contains("email") => {
            Error::of(ErrorCode::EmailTaken, Reason::EmailTaken).on("email")
        }
        StoreError::Conflict(name) if name.contains("username") => {
            Error::of(ErrorCode::UsernameTaken, Reason::UsernameTaken).on("username")
        }
        other => other.into(),
    }
}

impl Services {
    /// Logs a sign-in in the transaction that opens its session: one commit.
    pub(crate) async fn logged_in_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        user: &UserRow,
        method: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let event = Event::new(EventKind::LoginSucceeded, client)
            .user(&user.id)
            .detail(method);
        Ok(self.record_in(tx, event).await?)
    }
}
