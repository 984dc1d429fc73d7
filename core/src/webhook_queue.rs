//! Queuing webhooks where events are logged (`Services::record_in`): which
//! log entries make which webhook, which ones some endpoint wants, and the
//! insert that queues them. Delivery and endpoints are in `webhooks`.

use std::sync::atomic::{AtomicU32, Ordering};

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
pub struct Subscriptions(AtomicU32);

const UNKNOWN: u32 = 1 << 31;

impl Default for Subscriptions {
    fn default() -> Self {
        Self(AtomicU32::new(UNKNOWN))
    }
}

impl Subscriptions {
    pub(crate) fn set(&self, bits: u32) {
        self.0.store(bits, Ordering::Relaxed);
    }

    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.0.load(Ordering::Relaxed) & (bit(event) | UNKNOWN) != 0
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
    .bind(user_id.unwrap_or_default())
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
    fn unread_subscriptions_want_everything() {
        let subs = Subscriptions::default();
        assert!(WebhookEvent::ALL.iter().all(|e| subs.wants(*e)));
        subs.0.store(bit(WebhookEvent::Deleted), Ordering::Relaxed);
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
