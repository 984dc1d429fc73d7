//! The security activity log: an append-only table of what happened to each
//! account, by whom and from where. Users read their own; admins read all.
//! Events carry names, reasons and addresses, never a password, code or token.

use sqlx::{Any, FromRow, Transaction};

use crate::client::{describe, truncate};
use crate::db::StoreError;
use crate::error::Error;
use crate::model::{ActivityEvent, ActivityPage, EventKind, EventReason, UserRef};
use crate::webhook_model::WebhookEvent;
use crate::webhook_queue::{event_of, queue_in};
use crate::{now, ClientInfo, Services};

/// Longest page of events served at once.
pub const MAX_PAGE: u32 = 200;
/// The page a caller gets when it names no length.
pub const DEFAULT_PAGE: u32 = 50;

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub client: &'a ClientInfo,
    pub user_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub reason: Option<EventReason>,
    pub detail: Option<String>,
}

impl<'a> Event<'a> {
    pub fn new(kind: EventKind, client: &'a ClientInfo) -> Self {
        Self {
            kind,
            client,
            user_id: None,
            actor_id: None,
            reason: None,
            detail: None,
        }
    }

    pub fn user(self, id: &'a str) -> Self {
        Self {
            user_id: Some(id),
            ..self
        }
    }

    pub fn actor(self, id: &'a str) -> Self {
        Self {
            actor_id: Some(id),
            ..self
        }
    }

    pub fn reason(self, reason: EventReason) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }

    pub fn detail(self, detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..self
        }
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Only this account's.
    pub user_id: Option<String>,
    /// Accounts whose email or username contains this, or this exact IP.
    pub search: Option<String>,
    pub kind: Option<EventKind>,
    /// Only what administrators did.
    pub admin_only: bool,
    /// Older than this event id (the previous page's `next_before`).
    pub before: Option<String>,
    /// Events per page: `DEFAULT_PAGE` unless given, at most `MAX_PAGE`.
    pub limit: Option<u32>,
}

#[derive(FromRow)]
struct EventRow {
    id: String,
    at: i64,
    kind: String,
    user_id: Option<String>,
    actor_id: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    user_username: Option<String>,
    user_email: Option<String>,
    actor_username: Option<String>,
    actor_email: Option<String>,
}

impl EventRow {
    /// The event as an admin sees it; `None` for a kind this build does not
    /// know (written by a newer version).
    fn into_event(self) -> Option<ActivityEvent> {
        let kind = EventKind::parse(&self.kind)?;
        Some(ActivityEvent {
            id: self.id,
            at: self.at,
            kind,
            by_admin: self.actor_id.is_some() || self.reason.as_deref() == Some("cli"),
            // A reason this build does not know (a newer one wrote it) is left out.
            reason: self.reason.as_deref().and_then(EventReason::parse),
            detail: match kind {
                EventKind::LoginThrottled => self.detail.map(failures_only),
                _ => self.detail,
            },
            device: describe(self.user_agent.as_deref()),
            ip: self.ip,
            user: self.user_id.map(|id| UserRef {
                id,
                username: self.user_username,
                email: self.user_email,
            }),
            actor: self.actor_id.map(|id| UserRef {
                id,
                username: self.actor_username,
                email: self.actor_email,
            }),
        })
    }
}

/// A throttle event's detail is the failures counted; rows written before
/// that said "12 failures, wait 4 s".
fn failures_only(detail: String) -> String {
    match detail.split_once(' ') {
        Some((count, _)) => count.to_owned(),
        None => detail,
    }
}

/// A new entry's id: time-ordered, so the log pages by id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// An entry's line in the server's log, as it is written.
pub(crate) fn log(event: &Event<'_>) {
    tracing::info!(
        event = event.kind.as_str(),
        user_id = event.user_id,
        actor_id = event.actor_id,
        reason = event.reason.map(EventReason::as_str),
        "security event"
    );
}

async fn insert<'e, E>(executor: E, event: Event<'_>) -> Result<String, StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let id = new_id();
    log(&event);
    sqlx::query(
        "INSERT INTO audit_events (id, at, kind, user_id, actor_id, reason, detail, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(now())
    .bind(event.kind.as_str())
    .bind(event.user_id)
    .bind(event.actor_id)
    .bind(event.reason.map(EventReason::as_str))
    .bind(event.detail)
    .bind(event.client.ip.as_deref())
    .bind(
        event
            .client
            .user_agent
            .as_deref()
            .map(|ua| truncate(ua, 512)),
    )
    .execute(executor)
    .await?;
    Ok(id)
}

impl Services {
    /// Records an event inside `tx`, so it commits or rolls back with the
    /// change it describes, and queues its webhooks with it.
    pub(crate) async fn record_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        event: Event<'_>,
    ) -> Result<(), StoreError> {
        let webhook = self.webhook_of(event.kind);
        let user_id = event.user_id;
        let id = insert(&mut **tx, event).await?;
        if let Some(webhook) = webhook {
            queue_in(tx, &id, webhook, user_id).await?;
            // Seen once the change commits (or within the worker's second).
            self.wake_webhooks();
        }
        Ok(())
    }

    /// The webhook an event of `kind` queues, when an endpoint wants it.
    pub(crate) fn webhook_of(&self, kind: EventKind) -> Option<WebhookEvent> {
        event_of(kind).filter(|e| self.subscriptions.wants(*e))
    }

    /// Records an event on its own.
    pub(crate) async fn record(&self, event: Event<'_>) -> Result<(), Error> {
        if self.webhook_of(event.kind).is_some() {
            let mut tx = self.db.begin().await?;
            self.record_in(&mut tx, event).await?;
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(());
        }
        insert(&self.db.pool, event).await?;
        Ok(())
    }
}

impl crate::Admin<'_> {
    /// Events matching `filter`, newest first.
    pub async fn activity(&self, filter: &ActivityFilter) -> Result<ActivityPage, Error> {
        let limit = filter.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let mut sql = String::from(
            "SELECT e.id, e.at, e.kind, e.user_id, e.actor_id, e.reason, e.detail, e.ip, e.user_agent, \
                    u.username AS user_username, u.email AS user_email, \
                    a.username AS actor_username, a.email AS actor_email \
             FROM audit_events e \
             LEFT JOIN users u ON u.id = e.user_id \
             LEFT JOIN users a ON a.id = e.actor_id WHERE 1 = 1",
        );
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |value: String| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(user_id) = &filter.user_id {
            sql += &format!(" AND e.user_id = {}", bind(user_id.clone()));
        }
        if let Some(kind) = filter.kind {
            sql += &format!(" AND e.kind = {}", bind(kind.as_str().to_owned()));
        }
        if filter.admin_only {
            sql += " AND (e.actor_id IS NOT NULL OR e.reason = 'cli')";
        }
        if let Some(search) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let ip = bind(search.to_owned());
            let like = bind(crate::db::like_pattern(search));
            sql += &format!(
                " AND (e.ip = {ip} OR u.email LIKE {like} ESCAPE '\\' OR u.username LIKE {like} ESCAPE '\\')"
            );
        }
        if let Some(before) = &filter.before {
            sql += &format!(" AND e.id < {}", bind(before.clone()));
        }
        // One more than asked: tells whether an older page exists.
        sql += &format!(" ORDER BY e.id DESC LIMIT {}", limit + 1);
        let mut query = sqlx::query_as::<_, EventRow>(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let mut rows = query
            .fetch_all(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_before = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
        Ok(ActivityPage {
            events: rows.into_iter().filter_map(EventRow::into_event).collect(),
            next_before,
        })
    }
}

impl crate::Accounts<'_> {
    /// A user's own recent activity. Who the administrator was is theirs to
    /// know, not the user's.
    pub async fn own_activity(
        &self,
        user_id: &str,
        before: Option<String>,
    ) -> Result<ActivityPage, Error> {
        let mut page = self
            .admin()
            .activity(&ActivityFilter {
                user_id: Some(user_id.to_owned()),
                before,
                limit: None,
                ..ActivityFilter::default()
            })
            .await?;
        for event in &mut page.events {
            event.user = None;
            event.actor = None;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::failures_only;

    #[test]
    fn throttle_details_are_counts_whenever_they_were_written() {
        assert_eq!(failures_only("12".into()), "12");
        assert_eq!(failures_only("12 failures, wait 4 s".into()), "12");
    }
}
