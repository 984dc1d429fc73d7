//! Sign-up that does not tell who has an account (`SIGNUP_HIDE_EXISTING`).
//!
//! By default a taken address answers 409 `email_taken`, as users expect.
//! With the switch on, a taken address answers exactly like a free one: no
//! session yet, "we sent a code to finish", the same cooldown and limits,
//! a stored code and the same answers to wrong codes. The owner of a taken
//! address is mailed "you already have an account" instead of a code, and
//! the code stored for it is bound to a token nobody has, so it can never
//! be right.
//!
//! Nothing is created until the code comes back: the account waits in
//! `pending_signups`, so a stranger cannot tell a free address by logging
//! in with the password they chose, or by finding the username they picked
//! taken. The code finishes the sign-up only together with the token the
//! sign-up answered with, so someone who reads the mailbox but did not
//! choose the password cannot finish it either.

use sqlx::FromRow;

use crate::accounts::NewAccount;
use crate::audit::Event;
use crate::codes::Purpose;
use crate::db::StoreError;
use crate::email_change::address_reserved_in;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{EventKind, Role, User};
use crate::sessions::Issued;
use crate::tokens::{random_token, token_hash, well_formed};
use crate::user_store::{self, UserRow};
use crate::Letter;
use crate::{now, ClientInfo, Services};

/// What a sign-up answers.
pub enum SignUp {
    /// The account exists and this is its first session.
    Started(User, Issued),
    /// A code is on its way (if the address was free): finish with it.
    Pending(PendingSignup),
}

/// A sign-up waiting for its code.
#[derive(Debug, Clone)]
pub struct PendingSignup {
    /// The address as stored (trimmed, lower-cased, IDNA).
    pub email: String,
    /// Goes back with the code; 256-bit, stored only as a SHA-256.
    pub token: String,
}

#[derive(FromRow)]
struct PendingRow {
    username: String,
    password_hash: String,
}

impl Services {
    async fn start_quiet_signup(
        &self,
        email: &str,
        username: &str,
        password: Option<String>,
        client: &ClientInfo,
    ) -> Result<PendingSignup, Error> {
        self.limit_signups(client).await?;
        // Checked and hashed either way: the work does not depend on the
        // address.
        let account = self.prepare_account(email, username, password).await?;
        let email = account.email().to_owned();
        // A username of an existing account is named, as always: that says
        // nothing about the address.
        if user_store::by_login(&self.db, account.username())
            .await?
            .is_some()
        {
            return Err(username_taken());
        }
        let now = now();
        let owner = user_store::by_login(&self.db, &email).await?;
        // Both asked every time: the work must not depend on the answer.
        let reserved = address_reserved_in(&self.db.pool, &email, None, now).await?;
        let taken = owner.is_some() || reserved;
        let token = random_token();
        // A taken address's code is bound to a token nobody holds.
        let bound = if taken { random_token() } else { token.clone() };
        let code = self
            .issue_code(Purpose::SignUp, &email, Some(&bound), client)
            .await?;
        let ttl = self.config.codes.ttl.as_secs() as i64;
        sqlx::query(
            "INSERT INTO pending_signups (token_hash, email, username, password_hash, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(&email)
        .bind(account.username())
        .bind(account.password_hash())
        .bind(now + ttl)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        sqlx::query("DELETE FROM pending_signups WHERE expires_at < $1")
            .bind(now)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        // The mail goes after the answer, so its work takes no visible time.
        let services = Services::clone(self);
        let (address, locale) = (email.clone(), client.locale);
        tokio::spawn(async move {
            let letter = match owner {
                None if taken => return, // held by a revert link: nobody to tell
                None => services.letter(
                    locale,
                    &address,
                    Letter::Code {
                        purpose: Purpose::SignUp,
                        code: &code,
                        minutes: ttl as u64 / 60,
                    },
                ),
                Some(owner) => services.letter(
                    &owner.locale,
                    &address,
                    Letter::AlreadyRegistered {
                        public_url: &services.config.public_url,
                    },
                ),
            };
            if let Err(err) = services.enqueue_mail(letter).await {
                tracing::warn!(code = ?err.code, cause = ?err.cause, "sign-up: mail not queued");
            }
        });
        Ok(PendingSignup { email, token })
    }
}

impl crate::Accounts<'_> {
    /// The front door of sign-up: the answer the operator chose.
    pub async fn sign_up(
        &self,
        email: &str,
        username: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<SignUp, Error> {
        self.sign_up_with(email, username, Some(password), client)
            .await
    }

    /// `sign_up` without a password: the account signs in with a passkey
    /// (added next, while the sign-up still counts as a fresh sign-in) or
    /// an emailed code, and may set a password later.
    pub async fn sign_up_without_password(
        &self,
        email: &str,
        username: &str,
        client: &ClientInfo,
    ) -> Result<SignUp, Error> {
        // Without passkeys the account's only way in would be the mailbox:
        // a password is part of signing up here.
        if self.relying_party.is_none() {
            return Err(Error::of(ErrorCode::Conflict, Reason::PasskeysOff));
        }
        self.sign_up_with(email, username, None, client).await
    }

    async fn sign_up_with(
        &self,
        email: &str,
        username: &str,
        password: Option<String>,
        client: &ClientInfo,
    ) -> Result<SignUp, Error> {
        if !self.config.signup_hide_existing {
            let (user, issued) = self.open_account(email, username, password, client).await?;
            return Ok(SignUp::Started(user, issued));
        }
        self.start_quiet_signup(email, username, password, client)
            .await
            .map(SignUp::Pending)
    }

    /// Finishes a pending sign-up with the code mailed to the address and
    /// the token the sign-up answered with: the account is made, verified,
    /// and its first session opens.
    pub async fn finish_signup(
        &self,
        email: &str,
        code: &str,
        token: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        let email = crate::validate::email(email)?;
        // A malformed token still spends a try, like a wrong one.
        let token = if well_formed(token) { token } else { "" };
        self.check_bound_code(Purpose::SignUp, &email, None, Some(token), code, client)
            .await?;
        let now = now();
        let pending: Option<PendingRow> = sqlx::query_as(
            "SELECT username, password_hash FROM pending_signups \
             WHERE token_hash = $1 AND email = $2 AND expires_at > $3",
        )
        .bind(token_hash(token))
        .bind(&email)
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let pending = pending
            .ok_or_else(|| Error::of(ErrorCode::CodeExpired, Reason::CodeExpired).on("code"))?;
        let account = NewAccount::from_parts(email, pending.username, pending.password_hash);
        let mut tx = self.db.begin().await?;
        // Taken since (the code page has no such fields): said for the form.
        let user = account
            .insert_in(&mut tx, Role::User, client)
            .await
            .map_err(|e| Error { field: None, ..e })?;
        sqlx::query("UPDATE users SET email_verified = 1 WHERE id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query("DELETE FROM pending_signups WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.record_in(
            &mut tx,
            Event::new(EventKind::SignUp, client).user(&user.id),
        )
        .await?;
        let user = UserRow {
            email_verified: 1,
            ..user
        };
        let issued = self
            .start_session_in(&mut tx, &user, "signup", client)
            .await?;
        self.logged_in_in(&mut tx, &user, "signup", client).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok((user.to_user(), issued))
    }
}

fn username_taken() -> Error {
    Error::of(ErrorCode::UsernameTaken, Reason::UsernameTaken).on("username")
}
