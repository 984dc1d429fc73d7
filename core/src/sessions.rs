//! Sessions: one row per signed-in device, a chain of hashed refresh tokens
//! rotated on every use, and access tokens checked against the session so a
//! revoked session is refused at once.

use sqlx::FromRow;

use crate::audit::Event;
use crate::client::truncate;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{EventKind, EventReason, Role, User};
use crate::session_cache::Change;
use crate::tokens::{random_token, token_hash};
use crate::user_store::UserRow;
use crate::{now, Auth, ClientInfo, Services};

/// A pair of tokens handed to a client.
#[derive(Debug, Clone)]
pub struct Issued {
    pub session_id: String,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
}

#[derive(FromRow)]
struct RefreshRow {
    session_id: String,
    user_id: String,
    expires_at: i64,
    rotated_at: Option<i64>,
    session_revoked_at: Option<i64>,
    session_expires_at: i64,
}

/// A user row with the expiry of the session an access token names.
#[derive(FromRow)]
struct SignedIn {
    #[sqlx(flatten)]
    user: UserRow,
    session_expires_at: i64,
}

fn session_ended() -> Error {
    Error::of(ErrorCode::Unauthorized, Reason::SessionEnded)
}

impl Services {
    /// Opens a session for `user`, signed in by `method` (`password`,
    /// `code`, `passkey`, `password+totp`, …; apps learn it as `amr`), and
    /// issues its first tokens.
    pub(crate) async fn start_session(
        &self,
        user: &UserRow,
        method: &str,
        client: &ClientInfo,
    ) -> Result<Issued, Error> {
        let mut tx = self.db.begin().await?;
        let issued = self.start_session_in(&mut tx, user, method, client).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(issued)
    }

    /// `start_session` inside `tx` (sign-up opens the account and its first
    /// session together).
    pub(crate) async fn start_session_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: &UserRow,
        method: &str,
        client: &ClientInfo,
    ) -> Result<Issued, Error> {
        let now = now();
        let session_id = uuid::Uuid::new_v4().to_string();
        let refresh_expires_at = now + self.config.refresh_ttl.as_secs() as i64;
        let refresh_token = random_token();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, expires_at, method) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(&session_id)
        .bind(&user.id)
        .bind(client.user_agent.as_deref().map(|ua| truncate(ua, 512)))
        .bind(client.ip.as_deref())
        .bind(now)
        .bind(refresh_expires_at)
        .bind(method)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from)?;
        insert_refresh(tx, &refresh_token, &session_id, now, refresh_expires_at).await?;
        self.issue(user, session_id, refresh_token, refresh_expires_at, now)
            .await
    }

    pub(crate) async fn issue(
        &self,
        user: &UserRow,
        session_id: String,
        refresh_token: String,
        refresh_expires_at: i64,
        now: i64,
    ) -> Result<Issued, Error> {
        let role = Role::parse(&user.role).unwrap_or_default();
        let (access_token, claims) = self
            .access_tokens
            .issue(&user.id, &session_id, role, now)
            .await?;
        Ok(Issued {
            session_id,
            access_token,
            access_expires_at: claims.exp,
            refresh_token,
            refresh_expires_at,
        })
    }

    async fn rotated_at(&self, hash: &str) -> Result<Option<i64>, Error> {
        let at: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT rotated_at FROM refresh_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(StoreError::from)?;
        Ok(at.and_then(|(at,)| at))
    }
}

impl crate::Sessions<'_> {
    /// Rotates a refresh token. A repeat inside the grace window gets the same
    /// successor; a repeat after it is treated as theft and ends the session.
    pub async fn refresh(&self, token: &str, client: &ClientInfo) -> Result<(Issued, Auth), Error> {
        let now = now();
        let hash = token_hash(token);
        let row: Option<RefreshRow> = sqlx::query_as(
            "SELECT r.session_id, s.user_id, r.expires_at, r.rotated_at, \
                    s.revoked_at AS session_revoked_at, s.expires_at AS session_expires_at \
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
             WHERE r.token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(session_ended());
        };
        if row.session_revoked_at.is_some()
            || row.expires_at <= now
            || row.session_expires_at <= now
        {
            return Err(session_ended());
        }

        let successor = self.tokens.refresh_successor(token);
        // Claim the token: only one caller flips `rotated_at`.
        let claimed = row.rotated_at.is_none()
            && sqlx::query("UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL")
                .bind(now)
                .bind(&hash)
                .execute(&self.db.pool)
                .await
                .map_err(StoreError::from)?
                .rows_affected()
                == 1;
        if !claimed {
            let rotated_at = match row.rotated_at {
                Some(at) => at,
                None => self.rotated_at(&hash).await?.unwrap_or(now),
            };
            if now - rotated_at > self.config.refresh_grace.as_secs() as i64 {
                tracing::warn!(session_id = %row.session_id, "refresh token reused: revoking the session");
                self.revoke_session(&row.session_id, "refresh_token_reuse")
                    .await?;
                let event = Event::new(EventKind::SessionRevoked, client)
                    .user(&row.user_id)
                    .reason(EventReason::RefreshTokenReuse);
                self.record(event).await?;
                return Err(Error::of(ErrorCode::Unauthorized, Reason::TokenReused));
            }
        }
        // Winner and racing repeats all insert the same successor; the
        // primary key keeps exactly one row.
        let mut tx = self.db.begin().await?;
        insert_refresh(
            &mut tx,
            &successor,
            &row.session_id,
            now,
            row.session_expires_at,
        )
        .await?;
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&row.session_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;

        let user = crate::user_store::by_id(&self.db, &row.user_id)
            .await?
            .filter(|u| !u.is_disabled())
            .ok_or_else(session_ended)?;
        let issued = self
            .issue(
                &user,
                row.session_id.clone(),
                successor,
                row.session_expires_at,
                now,
            )
            .await?;
        let auth = Auth {
            user: user.to_user(),
            session_id: row.session_id,
            access_expires_at: issued.access_expires_at,
            session_expires_at: row.session_expires_at,
            client: client.clone(),
        };
        Ok((issued, auth))
    }

    /// Resolves an access token to a live session of an enabled user.
    pub async fn authenticate(
        &self,
        access_token: &str,
        client: &ClientInfo,
    ) -> Result<Option<Auth>, Error> {
        let Some(claims) = self.access_tokens.verify(access_token).await? else {
            return Ok(None);
        };
        let now = now();
        let signed_in = |user: User, session_expires_at| Auth {
            user,
            session_id: claims.sid.clone(),
            access_expires_at: claims.exp,
            session_expires_at,
            client: client.clone(),
        };
        if let Some((user, expires_at)) = self.session_cache.get(&claims.sid, &claims.sub, now) {
            return Ok(Some(signed_in(user, expires_at)));
        }
        let ticket = self.session_cache.ticket();
        let user: Option<SignedIn> = sqlx::query_as(&format!(
            "SELECT {}, s.expires_at AS session_expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3",
            crate::user_store::COLUMNS
        ))
        .bind(&claims.sid)
        .bind(&claims.sub)
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let Some(row) = user.filter(|u| !u.user.is_disabled()) else {
            return Ok(None);
        };
        let user = row.user.to_user();
        if let Some(ticket) = ticket {
            self.session_cache
                .fill(ticket, &claims.sid, &user, row.session_expires_at);
        }
        Ok(Some(signed_in(user, row.session_expires_at)))
    }

    /// Ends the caller's session (log out).
    pub async fn logout(&self, auth: &Auth) -> Result<(), Error> {
        self.revoke_session(&auth.session_id, "logout").await?;
        self.record(Event::new(EventKind::Logout, &auth.client).user(&auth.user.id))
            .await
    }

    /// Ends the session a browser held when it signed in again and got
    /// `issued`: its cookies are replaced, so it could serve nobody but
    /// someone who copied them. Logged as `replaced`, not as a log-out: the
    /// person is still signed in. A failure is logged; the sign-in stands.
    pub async fn replaced(&self, earlier: Option<&Auth>, issued: &Issued) {
        let Some(earlier) = earlier.filter(|a| a.session_id != issued.session_id) else {
            return;
        };
        let event = Event::new(EventKind::SessionRevoked, &earlier.client)
            .user(&earlier.user.id)
            .reason(EventReason::Replaced);
        let ended = match self.revoke_session(&earlier.session_id, "replaced").await {
            Ok(()) => self.record(event).await,
            failed => failed,
        };
        if let Err(err) = ended {
            tracing::warn!(code = ?err.code, cause = ?err.cause, "a replaced session was not ended");
        }
    }

    pub async fn revoke_session(&self, session_id: &str, reason: &str) -> Result<(), Error> {
        sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
            .bind(now())
            .bind(reason)
            .bind(session_id)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        self.forget(Change::Session(session_id.to_owned())).await;
        Ok(())
    }
}

/// When a session was opened (its sign-in), if it exists.
pub(crate) async fn opened_at(db: &crate::Db, session_id: &str) -> Result<Option<i64>, StoreError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|(at,)| at))
}

/// Ends every live session of a user but `keep`, inside a transaction.
pub(crate) async fn revoke_user_sessions_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4",
    )
    .bind(now)
    .bind(reason)
    .bind(user_id)
    // Session ids are UUIDs: the empty string keeps none.
    .bind(keep.unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    // What apps were given ends too: access an app got through a stolen
    // session must not outlive a password reset or "sign out everywhere".
    crate::grants::end_in(tx, crate::grants::Grants::OfUser(user_id), now).await?;
    Ok(done.rows_affected())
}

async fn insert_refresh(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token: &str,
    session_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(token_hash(token))
    .bind(session_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
