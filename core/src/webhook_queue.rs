//! Queuing webhooks where events are logged (`Services::record_in`): which
//! log entries make which webhook, which ones some endpoint wants, and the
//! insert that queues them. Delivery and endpoints are in `webhooks`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sqlx::AnyConnection;

use crate::db::StoreError;
use crate::model::EventKind;
use crate::now;
use crate::webhook_model::WebhookEvent;

/// The webhook an entry of the activity log makes, if any.
pub fn event_of(kind: EventKind) -> Option<WebhookEvent> {
    Some(match kind {
        EventKind::SignUp => WebhookEvent::UserCreated,
        EventKind::EmailVerified => WebhookEvent::EmailVerified,
        EventKind::LoginSucceeded => WebhookEvent::LoggedIn,
        EventKind::LoginFailed | EventKind::LoginThrottled => WebhookEvent::LoginFailed,
        EventKind::PasswordChanged => WebhookEvent::PasswordChanged,
        EventKind::PasswordReset => WebhookEvent::PasswordReset,
        EventKind::EmailChanged => WebhookEvent::EmailChanged,
        EventKind::UserDisabled => WebhookEvent::Disabled,
        EventKind::UserEnabled => WebhookEvent::Enabled,
        EventKind::AccountDeleted => WebhookEvent::Deleted,
        EventKind::RoleChanged => WebhookEvent::RoleChanged,
        EventKind::SessionRevoked | EventKind::Logout => WebhookEvent::SessionRevoked,
        _ => return None,
    })
}

pub(crate) fn bit(event: WebhookEvent) -> u32 {
    let index = WebhookEvent::ALL.iter().position(|e| *e == event);
    1 << index.unwrap_or_default()
}

/// The events some enabled endpoint wants, as bits. Until first read from
/// the database it answers yes to everything (a one-shot command such as
/// `create-admin` never reads it, and queues like any instance).
pub struct Subscriptions {
    bits: AtomicU32,
    /// Reads started: a read that finishes after a later one started
    /// (which saw a newer commit) is dropped, not stored over it.
    reads: AtomicU64,
}

const UNKNOWN: u32 = 1 << 31;

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            bits: AtomicU32::new(UNKNOWN),
            reads: AtomicU64::new(0),
        }
    }
}

impl Subscriptions {
    /// A read of the endpoints is starting; its ticket goes to [`set`].
    pub(crate) fn begin(&self) -> u64 {
        self.reads.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Stores what read `ticket` found, unless a later read has started.
    pub(crate) fn set(&self, ticket: u64, bits: u32) {
        if self.reads.load(Ordering::SeqCst) == ticket {
            self.bits.store(bits, Ordering::SeqCst);
        }
    }

    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.bits.load(Ordering::SeqCst) & (bit(event) | UNKNOWN) != 0
    }
}

/// Queues `event` (the log entry `event_id`) for every enabled endpoint
/// that wants it, inside the transaction that logged it. The account is
/// copied as it is now, so a later change or deletion does not alter what
/// is sent.
pub(crate) async fn queue_in(
    conn: &mut AnyConnection,
    event_id: &str,
    event: WebhookEvent,
    user_id: Option<&str>,
) -> Result<(), StoreError> {
    let pattern = format!("% {} %", event.as_str().replace('_', "\\_"));
    sqlx::query(
        "INSERT INTO webhook_deliveries \
         (endpoint_id, event_id, event_type, user_key, email, username, next_attempt_at, created_at) \
         SELECT w.id, $1, $2, $3, u.email, u.username, $4, $4 \
         FROM webhook_endpoints w LEFT JOIN users u ON u.id = $3 \
         WHERE w.enabled = 1 AND (w.events = '' OR w.events LIKE $5 ESCAPE '\\')",
    )
    .bind(event_id)
    .bind(event.as_str())
    // An account's deliveries go in order; an event about no account
    // (a failed log-in with an unknown name) waits for nothing.
    .bind(user_id.unwrap_or(event_id))
    .bind(now())
    .bind(pattern)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_subscriptions_want_everything_and_stale_reads_lose() {
        let subs = Subscriptions::default();
        assert!(WebhookEvent::ALL.iter().all(|e| subs.wants(*e)));
        let stale = subs.begin();
        let fresh = subs.begin();
        subs.set(fresh, bit(WebhookEvent::Deleted));
        subs.set(stale, 0);
        assert!(subs.wants(WebhookEvent::Deleted));
        assert!(!subs.wants(WebhookEvent::LoggedIn));
    }

    #[test]
    fn every_event_comes_from_the_log() {
        let made: Vec<_> = EventKind::ALL.iter().filter_map(|k| event_of(*k)).collect();
        for event in WebhookEvent::ALL {
            assert!(made.contains(&event), "{event:?} comes from no log entry");
        }
    }
}
