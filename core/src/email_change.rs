//! Changing the account's email. It is also a takeover path: whoever holds
//! a session could move the account to a mailbox of theirs and then reset
//! its password from there. So the change needs a fresh proof that the
//! owner is asking, its code works only for the account that asked for it,
//! and once it is done the other sessions end, outstanding reset links die,
//! and the old address is mailed a notice with a link that undoes it all.

use sqlx::{Any, FromRow};

use crate::audit::Event;
use crate::codes::Purpose;
use crate::config::Feature;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::limits::Rate;
use crate::links::{
    link_invalid, retire_reset_links_in, spend_link_in, still_live, KEEP_DEAD_SECS,
};
use crate::model::{EventKind, EventReason, User};
use crate::sessions::revoke_user_sessions_in;
use crate::tokens::{random_token, token_hash};
use crate::user_store;
use crate::Letter;
use crate::{now, validate, Auth, ClientInfo, Services};

/// How long the old address can undo a change: long enough for an owner
/// back from a week away to notice the mail.
pub const REVERT_TTL_SECS: i64 = 7 * 86_400;
/// "This wasn't me" uses per client address an hour (each is a database
/// write; the tokens themselves are 256-bit and cannot be guessed).
const REVERTS_PER_IP: Rate = Rate::per_hour(30);

#[derive(FromRow)]
struct RevertRow {
    user_id: String,
    seq: i64,
    old_email: String,
    new_email: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

/// An undone change: whose, and the address it has again.
#[derive(Debug, Clone)]
pub struct Reverted {
    pub user_id: String,
    pub email: String,
}

/// What a working revert link would undo, for the page that offers it.
#[derive(Debug, Clone)]
pub struct PendingRevert {
    pub old_email: String,
    pub new_email: String,
}

impl Services {
    /// The stored link for `token`, if it still works.
    async fn revert_row(&self, token: &str) -> Result<RevertRow, Error> {
        if !crate::tokens::well_formed(token) {
            return Err(link_invalid());
        }
        let row: Option<RevertRow> = sqlx::query_as(
            "SELECT user_id, seq, old_email, new_email, created_at, expires_at, used_at \
             FROM email_reverts WHERE token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let row = row.ok_or_else(link_invalid)?;
        still_live(row.used_at, row.expires_at)?;
        Ok(row)
    }
}

impl crate::Accounts<'_> {
    /// Step one: a fresh proof of identity (the password, or a recent
    /// sign-in for an account without one), then a code to the new address.
    pub async fn request_email_change(
        &self,
        auth: &Auth,
        new_email: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<String, Error> {
        self.require_verified(auth, Feature::ChangeEmail)?;
        let new_email = validate::email(new_email).map_err(|e| e.with_field("new_email"))?;
        if new_email == auth.user.email {
            return Err(Error::invalid("new_email", Reason::SameEmail));
        }
        self.require_fresh_second_factor(auth).await?;
        self.confirm_identity(auth, password, "password").await?;
        self.send_code(
            Purpose::ChangeEmail,
            &new_email,
            (&auth.user.id, &auth.user.locale),
            client,
        )
        .await?;
        Ok(new_email)
    }

    /// Step two: the code mailed to the new address (issued to this
    /// account only) switches the account to it, verified. In the same
    /// transaction the other sessions end and reset links mailed to the old
    /// address die; when the old address was verified (it is its owner's)
    /// a revert link is stored and the notice carrying it is queued.
    pub async fn confirm_email_change(
        &self,
        auth: &Auth,
        new_email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<User, Error> {
        let new_email = validate::email(new_email)?;
        let user_id = auth.user.id.as_str();
        self.codes()
            .check_code(
                Purpose::ChangeEmail,
                &new_email,
                Some(user_id),
                code,
                client,
            )
            .await?;
        let old_email = auth.user.email.clone();
        let now = now();
        let mut tx = self.db.begin().await?;
        // Step two shows no address field: a taken address is reported for
        // the whole form.
        let taken = || Error::of(ErrorCode::EmailTaken, Reason::EmailTaken);
        // Only from the address this request saw: a revert (or another
        // change) that committed meanwhile wins, and this one stops.
        let moved = sqlx::query(
            "UPDATE users SET email = $1, email_verified = 1, updated_at = $2 WHERE id = $3 AND email = $4",
        )
        .bind(&new_email)
        .bind(now)
        .bind(user_id)
        .bind(&old_email)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => taken(),
            other => other.into(),
        })?;
        if moved.rows_affected() != 1 {
            return Err(Error::unauthorized());
        }
        // Checked after the write, in its transaction: a link committed by
        // now is seen, one committed later saw this row's lock.
        if address_reserved_in(&mut *tx, &new_email, Some(user_id), now).await? {
            return Err(taken());
        }
        retire_reset_links_in(&mut tx, user_id, now).await?;
        let ended = revoke_user_sessions_in(
            &mut tx,
            user_id,
            Some(&auth.session_id),
            "email_changed",
            now,
        )
        .await?;
        let event = Event::new(EventKind::EmailChanged, client)
            .user(user_id)
            .detail(format!("{old_email} → {new_email}"));
        self.record_in(&mut tx, event).await?;
        if ended > 0 {
            let event = Event::new(EventKind::SessionRevoked, client)
                .user(user_id)
                .reason(EventReason::EmailChanged)
                .detail(ended.to_string());
            self.record_in(&mut tx, event).await?;
        }
        // An address never proven may not be its account's owner's: it
        // gets no power to undo the change, and reserves nothing.
        if auth.user.email_verified {
            let token = random_token();
            sqlx::query(
                "INSERT INTO email_reverts (token_hash, user_id, seq, old_email, new_email, created_at, expires_at) \
                 SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6 FROM email_reverts WHERE user_id = $2",
            )
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(&old_email)
            .bind(&new_email)
            .bind(now)
            .bind(now + REVERT_TTL_SECS)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            // Keep the table small.
            sqlx::query("DELETE FROM email_reverts WHERE expires_at < $1 OR used_at < $1")
                .bind(now - KEEP_DEAD_SECS)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            // In the transaction: the notice is the only copy of the link.
            let link = format!("{}/email/revert?token={token}", self.config.public_url);
            let notice = self.letter(
                &auth.user.locale,
                &old_email,
                Letter::EmailChanged {
                    new_email: &new_email,
                    link: &link,
                    days: REVERT_TTL_SECS / 86_400,
                },
            );
            self.enqueue_mail_in(&mut tx, &notice).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(user_id).await;
        self.wake_mail();
        Ok(User {
            email: new_email,
            email_verified: true,
            ..auth.user.clone()
        })
    }

    /// What a revert link would undo, if it still works.
    pub async fn check_revert_link(&self, token: &str) -> Result<PendingRevert, Error> {
        let row = self.revert_row(token).await?;
        Ok(PendingRevert {
            old_email: row.old_email,
            new_email: row.new_email,
        })
    }

    /// "This wasn't me": puts the old address back (verified: the link was
    /// mailed there), ends every session, retires reset links and clears
    /// the password, since whoever made the change knew it. The owner then
    /// signs in by a code to the restored address, or sets a new password
    /// with a reset link. The account's later revert links die with it
    /// (they undo changes made after this one, by the same intruder);
    /// earlier ones stay, so an intruder's own link cannot cancel the
    /// owner's. Returns the account and the restored address.
    pub async fn revert_email_change(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Reverted, Error> {
        if let Some(ip) = client.limit_key() {
            self.limit(&format!("rl:email-revert:ip:{ip}"), REVERTS_PER_IP)
                .await?;
        }
        let row = self.revert_row(token).await?;
        let locale = user_store::by_id(&self.db, &row.user_id)
            .await?
            .map(|u| u.locale)
            .unwrap_or_default();
        let now = now();
        let mut tx = self.db.begin().await?;
        // The account's row first: two reverts of one account queue here
        // instead of locking each other's links.
        let restored = sqlx::query(
            "UPDATE users SET email = $1, email_verified = 1, password_hash = '', updated_at = $2 WHERE id = $3",
        )
        .bind(&row.old_email)
        .bind(now)
        .bind(&row.user_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            // The reservation keeps the address free; this is the backstop.
            StoreError::Conflict(_) => Error::of(ErrorCode::EmailTaken, Reason::EmailTaken),
            other => other.into(),
        })?;
        if restored.rows_affected() != 1 {
            return Err(link_invalid());
        }
        spend_link_in(&mut tx, "email_reverts", token, now).await?;
        sqlx::query(
            "UPDATE email_reverts SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL AND seq > $3",
        )
        .bind(now)
        .bind(&row.user_id)
        .bind(row.seq)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        retire_reset_links_in(&mut tx, &row.user_id, now).await?;
        // Every passkey goes, like the password: each is a way in by
        // itself, and the intruder could have added one before confirming
        // the change. An app set up since the change goes too (one from
        // before stays: it is no way in alone, and the old mailbox alone
        // must not be able to remove it).
        let why = Event::new(EventKind::PasskeyRemoved, client).reason(EventReason::Reverted);
        self.remove_passkeys_in(&mut tx, &row.user_id, why).await?;
        if crate::second_factor::remove_in(&mut tx, &row.user_id, row.created_at).await? {
            let removed = Event::new(EventKind::SecondFactorRemoved, client)
                .user(&row.user_id)
                .reason(EventReason::Reverted);
            self.record_in(&mut tx, removed).await?;
        }
        let ended =
            revoke_user_sessions_in(&mut tx, &row.user_id, None, "email_reverted", now).await?;
        let event = Event::new(EventKind::EmailChanged, client)
            .user(&row.user_id)
            .reason(EventReason::Reverted)
            .detail(format!("{} → {}", row.new_email, row.old_email));
        self.record_in(&mut tx, event).await?;
        if ended > 0 {
            let event = Event::new(EventKind::SessionRevoked, client)
                .user(&row.user_id)
                .reason(EventReason::EmailReverted)
                .detail(ended.to_string());
            self.record_in(&mut tx, event).await?;
        }
        let signin_link = format!("{}/login/code", self.config.public_url);
        let letter = self.letter(
            &locale,
            &row.old_email,
            Letter::EmailReverted {
                signin_link: &signin_link,
            },
        );
        self.enqueue_mail_in(&mut tx, &letter).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(&row.user_id).await;
        self.wake_mail();
        Ok(Reverted {
            user_id: row.user_id,
            email: row.old_email,
        })
    }
}

/// Whether a live revert link of another account (not `owner`) holds
/// `email`: its owner may still take the address back, so nobody else may
/// sign up with it or move to it meanwhile.
pub(crate) async fn address_reserved_in<'e>(
    db: impl sqlx::Executor<'e, Database = Any>,
    email: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let held: Option<(String,)> = sqlx::query_as(
        "SELECT user_id FROM email_reverts \
         WHERE old_email = $1 AND used_at IS NULL AND expires_at > $2 AND user_id <> $3 LIMIT 1",
    )
    .bind(email)
    .bind(now)
    .bind(owner.unwrap_or_default())
    .fetch_optional(db)
    .await?;
    Ok(held.is_some())
}
