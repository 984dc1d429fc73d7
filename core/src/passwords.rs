//! Forgotten passwords (reset by emailed link), password change and account
//! deletion — the flows that prove who you are with a password or a link.

use sqlx::{Any, FromRow, Transaction};

use crate::audit::Event;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::hashing::Verified;
use crate::limits::Rate;
use crate::links::{
    link_invalid, retire_reset_links_in, spend_link_in, still_live, KEEP_DEAD_SECS,
};
use crate::model::{EventKind, EventReason, User};
use crate::password_policy::Estimate;
use crate::sessions::{revoke_user_sessions_in, Issued};
use crate::tokens::{random_token, token_hash};
use crate::user_store::{self, UserRow};
use crate::Letter;
use crate::{now, password_policy, validate, Auth, ClientInfo, Services};

/// Reset requests per address and per IP, per hour.
const RESETS_PER_EMAIL: Rate = Rate::per_hour(5);
const RESETS_PER_IP: Rate = Rate::per_hour(30);
/// Password checks (change, delete) per account, per hour.
const CHECKS_PER_USER: Rate = Rate::per_hour(10);
/// How recent a sign-in by code must be to stand in for the password of an
/// account that has none.
pub const REAUTH_WINDOW_SECS: i64 = 600;

#[derive(FromRow)]
struct ResetRow {
    user_id: String,
    expires_at: i64,
    used_at: Option<i64>,
}

/// Meter readings per client address a minute: a reading per pause in
/// typing, several fields and forms, with room to spare.
const STRENGTH_PER_MINUTE: Rate = Rate::per_minute(120);
/// The longest a reading may take (the worst 128-character input measures
/// far below it; see `password_policy`).
const STRENGTH_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

impl Services {
    /// Mails `user` a reset link; `actor` is the admin who asked for it.
    pub(crate) async fn send_reset_link(
        &self,
        user: &UserRow,
        actor: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let email = user.email.as_str();
        let now = now();
        let token = random_token();
        let ttl = self.config.reset_ttl.as_secs() as i64;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(&user.id)
        .bind(now)
        .bind(now + ttl)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        // Keep the table small.
        sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
            .bind(now - KEEP_DEAD_SECS)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        let link = format!("{}/reset?token={token}", self.config.public_url);
        self.enqueue_mail(self.letter(
            &user.locale,
            email,
            Letter::Reset {
                link: &link,
                minutes: ttl / 60,
            },
        ))
        .await?;
        let mut event = Event::new(EventKind::PasswordResetRequested, client).user(&user.id);
        if let Some(admin) = actor {
            event = event.actor(admin);
        }
        self.record(event).await
    }

    /// The account a reset link belongs to, if the link still works.
    async fn reset_target(&self, token: &str) -> Result<UserRow, Error> {
        if !crate::tokens::well_formed(token) {
            return Err(link_invalid());
        }
        let row: Option<ResetRow> = sqlx::query_as(
            "SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let row = row.ok_or_else(link_invalid)?;
        still_live(row.used_at, row.expires_at)?;
        user_store::by_id(&self.db, &row.user_id)
            .await?
            .ok_or_else(link_invalid)
    }

    /// A fresh proof that the owner is at this session, for changes that
    /// could hand the account over: the password, or for an account that
    /// has none (it signs in by emailed code), a session opened within
    /// [`REAUTH_WINDOW_SECS`].
    pub(crate) async fn confirm_identity(
        &self,
        auth: &Auth,
        password: String,
        field: &str,
    ) -> Result<UserRow, Error> {
        let user = user_store::by_id(&self.db, &auth.user.id)
            .await?
            .ok_or_else(Error::unauthorized)?;
        if !user.password_hash.is_empty() {
            return self.confirm_password(auth, password, field).await;
        }
        let opened = crate::sessions::opened_at(&self.db, &auth.session_id).await?;
        match opened {
            Some(at) if now() - at <= REAUTH_WINDOW_SECS => Ok(user),
            _ => Err(Error::counted(
                ErrorCode::ReauthRequired,
                Reason::ReauthRequired,
                (REAUTH_WINDOW_SECS / 60) as u64,
            )),
        }
    }

    /// Checks the signed-in user's password (for change and delete), with a
    /// per-account limit so a stolen session cannot guess it.
    async fn confirm_password(
        &self,
        auth: &Auth,
        password: String,
        field: &str,
    ) -> Result<UserRow, Error> {
        self.limit(
            &format!("rl:password-check:{}", auth.user.id),
            CHECKS_PER_USER,
        )
        .await?;
        let user = user_store::by_id(&self.db, &auth.user.id)
            .await?
            .ok_or_else(Error::unauthorized)?;
        if password.is_empty() || password.len() > 1024 {
            return Err(Error::invalid(field, Reason::CurrentPasswordMissing));
        }
        match self
            .hasher
            .verify(password, Some(user.password_hash.clone()))
            .await?
        {
            Verified::Match { .. } => Ok(user),
            Verified::Mismatch => Err(Error::of(
                ErrorCode::InvalidCredentials,
                Reason::CurrentPasswordWrong,
            )
            .on(field)),
        }
    }
}

impl crate::Passwords<'_> {
    /// Step one of a reset. Answers the same, in the same time, whether or
    /// not `email` has an account: the lookup and the mail happen after the
    /// answer, in a task of their own.
    /// Returns the address as normalised, for the "check your inbox" answer.
    pub async fn forgot_password(&self, email: &str, client: &ClientInfo) -> Result<String, Error> {
        let email = validate::email(email)?;
        // The client's limit first: past it, no key per sprayed address.
        if let Some(ip) = client.limit_key() {
            self.limit(&format!("rl:reset:ip:{ip}"), RESETS_PER_IP)
                .await?;
        }
        self.limit(&format!("rl:reset:email:{email}"), RESETS_PER_EMAIL)
            .await?;
        let services = Services::clone(self);
        let address = email.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let user = match user_store::by_login(&services.db, &address).await {
                Ok(Some(user)) if !user.is_disabled() => user,
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "password reset: account lookup failed");
                    return;
                }
            };
            if let Err(err) = services.send_reset_link(&user, None, &client).await {
                tracing::warn!(code = ?err.code, cause = ?err.cause, "password reset: link not queued");
            }
        });
        Ok(email)
    }

    /// Whether a reset link still works, for the page that shows its form;
    /// the account's email when it does.
    pub async fn check_reset_link(&self, token: &str) -> Result<String, Error> {
        self.reset_target(token).await.map(|user| user.email)
    }

    /// Step two: a working link sets a new password, ends every session,
    /// kills every other link and signs the user in afresh.
    pub async fn reset_password(
        &self,
        token: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        self.reset_password_with(token, password, None, client)
            .await
    }

    /// `reset_password`, with the second factor an account with an
    /// authenticator app must give (`code`: from the app, or a recovery
    /// code). It is checked before anything changes: a mailbox alone
    /// can neither replace the password nor sign every device out.
    pub async fn reset_password_with(
        &self,
        token: &str,
        password: String,
        code: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        if let Some(ip) = client.limit_key() {
            self.limit(&format!("rl:reset-use:ip:{ip}"), RESETS_PER_IP)
                .await?;
        }
        let user = self.reset_target(token).await?;
        if user.is_disabled() {
            return Err(Error::account_disabled());
        }
        password_policy::check(
            &password,
            self.config.min_password_len,
            &user.email,
            &user.username,
        )?;
        // An address never proven: whoever signed up may have set up the
        // app, and it goes below; the owner proves the mailbox.
        let unproven = user.email_verified == 0;
        let proved = !unproven && self.second_factor_for_reset(&user, code, client).await?;
        let hash = self.hasher.hash(password).await?;
        let now = now();
        let mut tx = self.db.begin().await?;
        // Consume the link first: of two racing uses, one wins.
        spend_link_in(&mut tx, "password_resets", token, now).await?;
        // The link proved the address is theirs.
        sqlx::query("UPDATE users SET email_verified = 1 WHERE id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        set_password_in(&mut tx, &user.id, &hash, None, now).await?;
        self.record_in(
            &mut tx,
            Event::new(EventKind::PasswordReset, client).user(&user.id),
        )
        .await?;
        if unproven {
            let why =
                Event::new(EventKind::PasskeyRemoved, client).reason(EventReason::AddressProven);
            self.remove_passkeys_in(&mut tx, &user.id, why).await?;
        }
        if unproven && crate::second_factor::remove_in(&mut tx, &user.id, 0).await? {
            let removed = Event::new(EventKind::SecondFactorRemoved, client)
                .user(&user.id)
                .reason(EventReason::AddressProven);
            self.record_in(&mut tx, removed).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(&user.id).await;
        self.enqueue_mail(self.letter(&user.locale, &user.email, Letter::PasswordChanged))
            .await?;
        let user = UserRow {
            email_verified: 1,
            ..user
        };
        let issued = self.start_session(&user, "reset", client).await?;
        if proved {
            self.reset_proved(&issued.session_id).await?;
        }
        Ok((user.to_user(), issued))
    }

    /// Whether a reset link's account must give a second factor with the
    /// new password (the reset page then asks for it).
    pub async fn reset_needs_second_factor(&self, token: &str) -> Result<bool, Error> {
        let user = self.reset_target(token).await?;
        if user.email_verified == 0 {
            return Ok(false);
        }
        let mut tx = self.db.begin().await?;
        let required = crate::second_factor::required_in(&mut tx, &user.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(required)
    }

    /// Changes the password of a signed-in user who knows the current one;
    /// every other session ends.
    pub async fn change_password(
        &self,
        auth: &Auth,
        current: String,
        new: String,
    ) -> Result<(), Error> {
        self.require_fresh_second_factor(auth).await?;
        let user = self
            .confirm_password(auth, current.clone(), "current_password")
            .await?;
        if new == current {
            return Err(Error::invalid("new_password", Reason::PasswordUnchanged));
        }
        password_policy::check(
            &new,
            self.config.min_password_len,
            &user.email,
            &user.username,
        )
        .map_err(|e| e.with_field("new_password"))?;
        let hash = self.hasher.hash(new).await?;
        let mut tx = self.db.begin().await?;
        set_password_in(&mut tx, &user.id, &hash, Some(&auth.session_id), now()).await?;
        self.record_in(
            &mut tx,
            Event::new(EventKind::PasswordChanged, &auth.client).user(&user.id),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(&user.id).await;
        self.enqueue_mail(self.letter(&user.locale, &user.email, Letter::PasswordChanged))
            .await
    }

    /// Deletes the account and everything hanging off it, once the password
    /// confirms it is the owner asking.
    pub async fn delete_account(&self, auth: &Auth, password: String) -> Result<(), Error> {
        self.require_fresh_second_factor(auth).await?;
        // A passwordless account confirms with a recent sign-in.
        let user = self.confirm_identity(auth, password, "password").await?;
        let mut tx = self.db.begin().await?;
        delete_user_in(&mut tx, &user.id).await?;
        let event = Event::new(EventKind::AccountDeleted, &auth.client)
            .user(&user.id)
            .detail(user.email.clone());
        self.record_in(&mut tx, event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(&user.id).await;
        self.enqueue_mail(self.letter(&user.locale, &user.email, Letter::AccountDeleted))
            .await
    }

    /// The meter's reading for a candidate password. zxcvbn's cost grows
    /// with the input, so it runs off the async workers, within a time
    /// budget, and each client address gets a bounded number of readings.
    ///
    /// A signed-in user who names no email or username (changing their
    /// password) is measured against their own, as the change will be.
    pub async fn password_strength(
        &self,
        password: String,
        email: &str,
        username: &str,
        auth: Option<&Auth>,
        client: &ClientInfo,
    ) -> Result<Estimate, Error> {
        if let Some(ip) = client.limit_key() {
            self.limit(&format!("rl:strength:ip:{ip}"), STRENGTH_PER_MINUTE)
                .await?;
        }
        let (email, username) = match auth {
            Some(auth) if email.trim().is_empty() && username.trim().is_empty() => {
                (auth.user.email.as_str(), auth.user.username.as_str())
            }
            _ => (email, username),
        };
        let email = email.trim().to_lowercase();
        let username = username.trim().to_lowercase();
        let min_len = self.config.min_password_len;
        let reading = tokio::task::spawn_blocking(move || {
            password_policy::strength(&password, min_len, &email, &username)
        });
        match tokio::time::timeout(STRENGTH_BUDGET, reading).await {
            Ok(Ok(strength)) => Ok(strength),
            Ok(Err(_)) => Err(Error::internal()),
            Err(_) => Err(Error::unavailable().caused_by("password strength over its time budget")),
        }
    }
}

/// Removes a user and everything hanging off it (their activity log stays).
pub(crate) async fn delete_user_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<(), StoreError> {
    for statement in [
        // The account's row first, in the order every other writer takes
        // (a racing undo of an email change waits instead of deadlocking).
        "UPDATE users SET updated_at = updated_at WHERE id = $1",
        "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)",
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM password_resets WHERE user_id = $1",
        "DELETE FROM email_reverts WHERE user_id = $1",
        "DELETE FROM recovery_codes WHERE user_id = $1",
        "DELETE FROM totp_factors WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Stores a new hash, retires every outstanding reset link and ends every
/// session but `keep` — one transaction, so no old session outlives it.
async fn set_password_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    hash: &str,
    keep: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    retire_reset_links_in(tx, user_id, now).await?;
    revoke_user_sessions_in(tx, user_id, keep, "password_changed", now).await?;
    Ok(())
}
