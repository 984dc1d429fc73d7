//! A user's own sessions: list them, end one, end all the others.

use sqlx::FromRow;

use crate::audit::Event;
use crate::client::describe;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{EventKind, EventReason, SessionInfo};
use crate::session_cache::Change;
use crate::sessions::revoke_user_sessions_in;
use crate::{now, Auth, Services};

#[derive(FromRow)]
struct SessionRow {
    id: String,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
}

impl Services {
    /// A user's live sessions, `current` first, then the most recently used.
    pub(crate) async fn sessions_of(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>, Error> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, user_agent, ip, created_at, last_used_at, expires_at FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(now())
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let mut sessions: Vec<SessionInfo> = rows
            .into_iter()
            .map(|row| SessionInfo {
                current: current == Some(row.id.as_str()),
                device: describe(row.user_agent.as_deref()),
                id: row.id,
                ip: row.ip,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
                expires_at: row.expires_at,
            })
            .collect();
        // Stable: the others keep their most-recent-first order.
        sessions.sort_by_key(|s| !s.current);
        Ok(sessions)
    }
}

impl crate::Sessions<'_> {
    /// The user's live sessions: the caller's first, then the most recently used.
    pub async fn list_sessions(&self, auth: &Auth) -> Result<Vec<SessionInfo>, Error> {
        self.sessions_of(&auth.user.id, Some(&auth.session_id))
            .await
    }

    /// Ends one of the user's own sessions (someone else's id is "not found").
    pub async fn end_session(&self, auth: &Auth, session_id: &str) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'ended_by_user' \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(session_id)
        .bind(&auth.user.id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if done.rows_affected() == 0 {
            return Err(Error::of(ErrorCode::NotFound, Reason::NoSuchSession));
        }
        let reason = if session_id == auth.session_id {
            EventReason::Logout
        } else {
            EventReason::EndedByUser
        };
        let event = Event::new(EventKind::SessionRevoked, &auth.client)
            .user(&auth.user.id)
            .reason(reason);
        self.record_in(&mut tx, event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget(Change::Session(session_id.to_owned())).await;
        Ok(())
    }

    /// "Log out everywhere else": every session but the caller's ends.
    pub async fn end_other_sessions(&self, auth: &Auth) -> Result<u64, Error> {
        let mut tx = self.db.begin().await?;
        let ended = revoke_user_sessions_in(
            &mut tx,
            &auth.user.id,
            Some(&auth.session_id),
            "signed_out_elsewhere",
            now(),
        )
        .await?;
        if ended > 0 {
            let event = Event::new(EventKind::SessionRevoked, &auth.client)
                .user(&auth.user.id)
                .reason(EventReason::SignedOutElsewhere)
                .detail(ended.to_string());
            self.record_in(&mut tx, event).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(&auth.user.id).await;
        Ok(ended)
    }
}
