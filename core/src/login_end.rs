//! How a password log-in ends once its hash matched. The session opens only
//! if the password is still the one checked: a reset, a change or the first
//! proof of the address (which clears a squatter's password and ends their
//! sessions) may have committed while the log-in was hashing. A lock on the
//! account's row orders the two (SQLite's write lock, from BEGIN IMMEDIATE;
//! PostgreSQL's row lock), so either the log-in is refused or its session
//! is ended. The same read says whether the account was disabled meanwhile
//! and whether a second factor is due; the session and its audit entry
//! commit together.
//!
//! The common case is one trip to the database: a flood of log-ins keeps
//! every core hashing, and each trip then costs more in wake-ups than in
//! work (seven trips a log-in held PostgreSQL to about 86 % of the raw hash
//! rate here, one to 88 %). On PostgreSQL that trip is one statement and
//! its commit; SQLite has no data-modifying CTEs, so there it is four
//! statements sent together inside the transaction (three trips to its
//! worker thread with BEGIN and COMMIT, where one per statement took six).

use crate::audit::{self, Event};
use crate::client::truncate;
use crate::db::{Backend, StoreError};
use crate::error::Error;
use crate::model::EventKind;
use crate::second_factor;
use crate::sessions::Issued;
use crate::tokens::{random_token, token_hash};
use crate::user_store::UserRow;
use crate::{now, ClientInfo, Services};

/// How the log-in ended.
pub(crate) enum LoginEnd {
    Opened(Issued),
    /// The password changed while it was hashing (or the rehash lost a race).
    Changed,
    Disabled,
    /// The password is right; the session waits for the second factor.
    SecondFactor,
}

/// Where a locked read of the account landed: its confirmed second
/// factors and whether it is disabled.
type Current = Option<(i64, i64)>;

fn ended(current: Current) -> Option<LoginEnd> {
    match current {
        None => Some(LoginEnd::Changed),
        Some((_, disabled)) if disabled != 0 => Some(LoginEnd::Disabled),
        Some((factors, _)) if factors > 0 => Some(LoginEnd::SecondFactor),
        Some(_) => None,
    }
}

impl Services {
    /// Ends a password log-in for `user`, whose stored hash (as read before
    /// hashing) matched; `rehash` replaces a weaker one first.
    pub(crate) async fn end_password_login(
        &self,
        user: &UserRow,
        rehash: Option<&str>,
        client: &ClientInfo,
    ) -> Result<LoginEnd, Error> {
        // A rehash or a webhook for the log-in needs more than one statement
        // holds (both are rare: once per account after a cost change; a
        // deployment that asked for every log-in by webhook).
        let one_trip = rehash.is_none() && self.webhook_of(EventKind::LoginSucceeded).is_none();
        if one_trip {
            self.end_in_one_trip(user, client).await
        } else {
            self.end_in_transaction(user, rehash, client).await
        }
    }

    async fn end_in_transaction(
        &self,
        user: &UserRow,
        rehash: Option<&str>,
        client: &ClientInfo,
    ) -> Result<LoginEnd, Error> {
        let mut tx = self.db.begin().await?;
        // A weaker stored hash is replaced first (the row is then held).
        if let Some(new_hash) = rehash {
            let replaced = sqlx::query(
                "UPDATE users SET password_hash = $1, updated_at = $2 \
                 WHERE id = $3 AND password_hash = $4",
            )
            .bind(new_hash)
            .bind(now())
            .bind(&user.id)
            .bind(&user.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            if replaced.rows_affected() != 1 {
                return Ok(LoginEnd::Changed);
            }
        }
        let current = sqlx::query_as::<_, (i64, i64)>(&format!(
            "SELECT ({}), u.disabled FROM users u WHERE u.id = $1 AND u.password_hash = $2{}",
            second_factor::required_sql("u.id"),
            self.db.share_lock("u")
        ))
        .bind(&user.id)
        .bind(rehash.unwrap_or(&user.password_hash))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if let Some(end) = ended(current) {
            // Keeps a rehash when the session waits for a second factor.
            if matches!(end, LoginEnd::SecondFactor) {
                tx.commit().await.map_err(StoreError::from)?;
            }
            return Ok(end);
        }
        let issued = self
            .start_session_in(&mut tx, user, "password", client)
            .await?;
        self.logged_in_in(&mut tx, user, "password", client).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(LoginEnd::Opened(issued))
    }

    /// The same steps in one trip: the locking read, then the session, its
    /// refresh token and the audit entry, inserted only when the read
    /// allows it.
    async fn end_in_one_trip(
        &self,
        user: &UserRow,
        client: &ClientInfo,
    ) -> Result<LoginEnd, Error> {
        let now = now();
        let refresh_expires_at = now + self.config.refresh_ttl.as_secs() as i64;
        // Signed before the statement, which commits the session: a token
        // that cannot be made leaves no session and no entry behind; a
        // refused log-in's token is dropped unseen.
        let issued = self
            .issue(
                user,
                uuid::Uuid::new_v4().to_string(),
                random_token(),
                refresh_expires_at,
                now,
            )
            .await?;
        let sql = match self.db.backend {
            Backend::Postgres => format!(
                "WITH cur AS (SELECT u.id, ({factors}) AS factors, u.disabled \
                   FROM users u WHERE u.id = $1 AND u.password_hash = $2 FOR SHARE OF u), \
                 s AS (INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, expires_at, method) \
                   SELECT $3, cur.id, $4, $5, $6, $6, $7, 'password' FROM cur \
                   WHERE cur.factors = 0 AND cur.disabled = 0 RETURNING id, user_id), \
                 r AS (INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
                   SELECT $8, s.id, $6, $7 FROM s), \
                 a AS (INSERT INTO audit_events (id, at, kind, user_id, detail, ip, user_agent) \
                   SELECT $9, $6, $10, s.user_id, 'password', $5, $4 FROM s) \
                 SELECT factors, disabled FROM cur",
                factors = second_factor::required_sql("u.id"),
            ),
            // The session id is new: the later inserts find it only when
            // the first one made it.
            Backend::Sqlite => format!(
                "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, expires_at, method) \
                   SELECT $3, u.id, $4, $5, $6, $6, $7, 'password' FROM users u \
                   WHERE u.id = $1 AND u.password_hash = $2 AND u.disabled = 0 AND ({factors}) = 0; \
                 INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
                   SELECT $8, s.id, $6, $7 FROM sessions s WHERE s.id = $3; \
                 INSERT INTO audit_events (id, at, kind, user_id, detail, ip, user_agent) \
                   SELECT $9, $6, $10, s.user_id, 'password', $5, $4 FROM sessions s WHERE s.id = $3; \
                 SELECT ({factors}), u.disabled FROM users u WHERE u.id = $1 AND u.password_hash = $2",
                factors = second_factor::required_sql("u.id"),
            ),
        };
        let query = sqlx::query_as::<_, (i64, i64)>(&sql)
            .bind(&user.id)
            .bind(&user.password_hash)
            .bind(&issued.session_id)
            .bind(client.user_agent.as_deref().map(|ua| truncate(ua, 512)))
            .bind(client.ip.as_deref())
            .bind(now)
            .bind(refresh_expires_at)
            .bind(token_hash(&issued.refresh_token))
            .bind(audit::new_id())
            .bind(EventKind::LoginSucceeded.as_str());
        // All rows, never `fetch_optional`: through sqlx's Any driver, on
        // SQLite that looks at the first statement's outcome only (an
        // insert's, no row) and answers None after the inserts ran.
        let current: Current = match self.db.backend {
            Backend::Postgres => query.fetch_all(&self.db.pool).await,
            // BEGIN IMMEDIATE: SQLite's write lock orders it, as the row
            // lock does on PostgreSQL.
            Backend::Sqlite => {
                let mut tx = self.db.begin().await?;
                let current = query.fetch_all(&mut *tx).await;
                if current.is_ok() {
                    tx.commit().await.map_err(StoreError::from)?;
                }
                current
            }
        }
        .map_err(StoreError::from)?
        .pop();
        if let Some(end) = ended(current) {
            return Ok(end);
        }
        audit::log(
            &Event::new(EventKind::LoginSucceeded, client)
                .user(&user.id)
                .detail("password"),
        );
        Ok(LoginEnd::Opened(issued))
    }
}
