//! Sign-up, log-in and profile changes.

use sqlx::{Any, Transaction};

use super::audit::{record_in, Event};
use super::codes::Purpose;
use super::config::Feature;
use super::db::StoreError;
use super::password::Verified;
use super::sessions::Issued;
use super::users::{self, NewUser, UserRow};
use super::{now, policy, validate, Auth, ClientInfo, Services};
use crate::error::{AppError, ErrorCode, Reason};
use crate::locale::Locale;
use crate::model::{EventKind, Role, User};

/// Longest password we will even hash on log-in (the policy caps new ones at 128).
const MAX_LOGIN_PASSWORD: usize = 1024;

impl Services {
    pub async fn signup(
        &self,
        email: &str,
        username: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<(User, Issued), AppError> {
        let account = self.prepare_account(email, username, password).await?;
        // The account, its log entry and its first session: all or nothing,
        // so an outage mid-way leaves no account its owner cannot use.
        let mut tx = self.db.begin().await?;
        let user = account.insert_in(&mut tx, Role::User, client).await?;
        record_in(
            &mut tx,
            Event::new(EventKind::SignUp, client).user(&user.id),
        )
        .await?;
        let issued = self.start_session_in(&mut tx, &user, client).await?;
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
            tracing::warn!(code = ?err.code, "sign-up: verification code not sent");
        }
        Ok((user.to_user(), issued))
    }

    /// Checks a new account's details and hashes its password (before any
    /// transaction: hashing takes a while).
    pub(super) async fn prepare_account(
        &self,
        email: &str,
        username: &str,
        password: String,
    ) -> Result<NewAccount, AppError> {
        let email = validate::email(email)?;
        let username = validate::username(username)?;
        policy::check(&password, self.config.min_password_len, &email, &username)?;
        let password_hash = self.hasher.hash(password).await?;
        Ok(NewAccount {
            email,
            username,
            password_hash,
        })
    }

    /// Logs in by email or username. Unknown account and wrong password give
    /// the same answer after the same work; a disabled account is only
    /// reported to someone who knows its password.
    pub async fn login(
        &self,
        login: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<(User, Issued), AppError> {
        let login = login.trim().to_lowercase();
        if login.is_empty() {
            return Err(AppError::invalid("login", Reason::LoginMissing));
        }
        if password.is_empty() {
            return Err(AppError::invalid("password", Reason::PasswordMissing));
        }
        if let Err(err) = self.login_allowed(&login, client).await {
            metrics::counter!("latchkey_logins_total", "outcome" => "throttled").increment(1);
            return Err(err);
        }
        let row = if password.len() > MAX_LOGIN_PASSWORD {
            None
        } else {
            users::by_login(&self.db, &login).await?
        };
        let stored = row.as_ref().map(|r| r.password_hash.clone());
        let verified = self
            .hasher
            .verify(truncate_for_hash(password), stored)
            .await?;
        let (Some(user), Verified::Match { rehash }) = (&row, verified) else {
            metrics::counter!("latchkey_logins_total", "outcome" => "invalid_credentials")
                .increment(1);
            let user_id = row.as_ref().map(|r| r.id.as_str());
            let mut event = Event::new(EventKind::LoginFailed, client);
            event = match user_id {
                Some(id) => event.user(id).reason("wrong_password"),
                None => event.reason("unknown_account"),
            };
            self.record(event).await?;
            self.login_failed(&login, user_id, client).await?;
            return Err(AppError::of(
                ErrorCode::InvalidCredentials,
                Reason::WrongCredentials,
            ));
        };
        if user.is_disabled() {
            metrics::counter!("latchkey_logins_total", "outcome" => "disabled").increment(1);
            return self.refuse_disabled(&user.id, client).await;
        }
        metrics::counter!("latchkey_logins_total", "outcome" => "success").increment(1);
        if let Some(hash) = rehash {
            users::set_password_hash(&self.db, &user.id, &hash, now()).await?;
        }
        self.signed_in(user, "password", client).await
    }

    /// Mails a new verification code to the signed-in user.
    pub async fn send_verification(
        &self,
        auth: &Auth,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if auth.user.email_verified {
            return Err(AppError::invalid("code", Reason::AlreadyVerified));
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
    ) -> Result<User, AppError> {
        if auth.user.email_verified {
            return Ok(auth.user.clone());
        }
        self.check_code(
            Purpose::VerifyEmail,
            &auth.user.email,
            Some(&auth.user.id),
            code,
            client,
        )
        .await?;
        users::set_email_verified(&self.db, &auth.user.id, now()).await?;
        self.record(Event::new(EventKind::EmailVerified, client).user(&auth.user.id))
            .await?;
        Ok(User {
            email_verified: true,
            ..auth.user.clone()
        })
    }

    /// Refuses `feature` to an unverified account when the operator reserved
    /// it for verified addresses.
    pub fn require_verified(&self, auth: &Auth, feature: Feature) -> Result<(), AppError> {
        if auth.user.email_verified || !self.config.verified_only.contains(&feature) {
            return Ok(());
        }
        Err(AppError::of(
            ErrorCode::EmailUnverified,
            Reason::VerifyFirst,
        ))
    }

    /// Step one of an email change: mails a code to the new address.
    pub async fn request_email_change(
        &self,
        auth: &Auth,
        new_email: &str,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        self.require_verified(auth, Feature::ChangeEmail)?;
        let new_email = validate::email(new_email).map_err(|e| e.with_field("new_email"))?;
        if new_email == auth.user.email {
            return Err(AppError::invalid("new_email", Reason::SameEmail));
        }
        self.send_code(
            Purpose::ChangeEmail,
            &new_email,
            (&auth.user.id, &auth.user.locale),
            client,
        )
        .await?;
        Ok(new_email)
    }

    /// Step two: the code mailed to the new address switches the account
    /// to it (verified, since the code proves it is theirs).
    pub async fn confirm_email_change(
        &self,
        auth: &Auth,
        new_email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<User, AppError> {
        let new_email = validate::email(new_email)?;
        self.check_code(
            Purpose::ChangeEmail,
            &new_email,
            Some(&auth.user.id),
            code,
            client,
        )
        .await?;
        users::set_email(&self.db, &auth.user.id, &new_email, now())
            .await
            // Step two shows no address field: report it for the whole form.
            .map_err(|e| AppError {
                field: None,
                ..conflict_to_field(e)
            })?;
        let event = Event::new(EventKind::EmailChanged, client)
            .user(&auth.user.id)
            .detail(format!("{} → {new_email}", auth.user.email));
        self.record(event).await?;
        Ok(User {
            email: new_email,
            email_verified: true,
            ..auth.user.clone()
        })
    }

    /// Passwordless sign-in, step one. Answers the same whether or not the
    /// address has an account; only an account's owner gets a mail.
    pub async fn request_signin_code(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let email = validate::email(email)?;
        let account = users::by_login(&self.db, &email).await?;
        match account {
            Some(user) if !user.is_disabled() => {
                self.send_code(Purpose::SignIn, &email, (&user.id, &user.locale), client)
                    .await?;
            }
            // The same cooldown as a real send, so the answer (and a 429)
            // tells nothing about the address.
            _ => self.start_cooldown(Purpose::SignIn, &email).await?,
        }
        Ok(email)
    }

    /// Passwordless sign-in, step two.
    pub async fn signin_with_code(
        &self,
        email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), AppError> {
        let email = validate::email(email)?;
        // Looked up first, so a failed try is logged against the account;
        // every answer does this lookup, so its time tells nothing.
        let account = users::by_login(&self.db, &email).await?;
        let user_id = account.as_ref().map(|u| u.id.as_str());
        self.check_code(Purpose::SignIn, &email, user_id, code, client)
            .await?;
        let user = account
            .ok_or_else(|| AppError::of(ErrorCode::CodeExpired, Reason::CodeExpired).on("code"))?;
        if user.is_disabled() {
            return self.refuse_disabled(&user.id, client).await;
        }
        // The code proved the address is theirs.
        if user.email_verified == 0 {
            users::set_email_verified(&self.db, &user.id, now()).await?;
        }
        let user = UserRow {
            email_verified: 1,
            ..user
        };
        self.signed_in(&user, "code", client).await
    }

    /// Opens a session after a successful log-in, and logs it.
    async fn signed_in(
        &self,
        user: &UserRow,
        method: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), AppError> {
        let issued = self.start_session(user, client).await?;
        let event = Event::new(EventKind::LoginSucceeded, client)
            .user(&user.id)
            .detail(method);
        self.record(event).await?;
        Ok((user.to_user(), issued))
    }

    /// Remembers the language the user chose, for their mail.
    pub async fn set_locale(&self, auth: &Auth, locale: Locale) -> Result<(), AppError> {
        let tag = leptos_i18n::Locale::as_str(locale);
        if auth.user.locale != tag {
            users::set_locale(&self.db, &auth.user.id, tag, now()).await?;
        }
        Ok(())
    }

    pub async fn update_username(&self, auth: &Auth, username: &str) -> Result<User, AppError> {
        self.require_verified(auth, Feature::ChangeUsername)?;
        let username = validate::username(username)?;
        if username == auth.user.username {
            return Ok(auth.user.clone());
        }
        users::set_username(&self.db, &auth.user.id, &username, now())
            .await
            .map_err(conflict_to_field)?;
        let event = Event::new(EventKind::UsernameChanged, &auth.client)
            .user(&auth.user.id)
            .detail(format!("{} → {username}", auth.user.username));
        self.record(event).await?;
        Ok(User {
            username,
            ..auth.user.clone()
        })
    }

    /// Refuses a sign-in to a disabled account, once its credentials were
    /// proven (so the refusal says nothing to someone guessing), and logs it.
    async fn refuse_disabled<T>(&self, user_id: &str, client: &ClientInfo) -> Result<T, AppError> {
        self.record(
            Event::new(EventKind::LoginFailed, client)
                .user(user_id)
                .reason("disabled"),
        )
        .await?;
        Err(account_disabled())
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
pub(super) struct NewAccount {
    email: String,
    username: String,
    password_hash: String,
}

impl NewAccount {
    /// Stores the account; the unique indexes decide duplicates.
    /// Stores the account, its mail in the language `client` asked for.
    pub(super) async fn insert_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        role: Role,
        client: &ClientInfo,
    ) -> Result<UserRow, AppError> {
        let new = NewUser {
            email: &self.email,
            username: &self.username,
            password_hash: &self.password_hash,
            role,
            locale: leptos_i18n::Locale::as_str(client.locale),
        };
        users::insert(&mut **tx, new, now())
            .await
            .map_err(conflict_to_field)
    }
}

pub(super) fn account_disabled() -> AppError {
    AppError::of(ErrorCode::AccountDisabled, Reason::AccountDisabled)
}

/// Turns a unique-index refusal into the field error a form shows.
pub(super) fn conflict_to_field(err: StoreError) -> AppError {
    match err {
        StoreError::Conflict(name) if name.contains("email") => {
            AppError::of(ErrorCode::EmailTaken, Reason::EmailTaken).on("email")
        }
        StoreError::Conflict(name) if name.contains("username") => {
            AppError::of(ErrorCode::UsernameTaken, Reason::UsernameTaken).on("username")
        }
        other => other.into(),
    }
}
