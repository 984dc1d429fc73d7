//! Webhooks: what a product is told about its users' accounts, and the
//! endpoints an administrator points them at.

use serde::{Deserialize, Serialize};

use crate::model::EventReason;

/// The payload's version: a change that could break a receiver (a field
/// removed or its meaning changed) comes with a new one; fields may be
/// added within a version.
pub const PAYLOAD_VERSION: u32 = 1;

/// What happened, as a webhook's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEvent {
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.email_verified")]
    EmailVerified,
    #[serde(rename = "user.logged_in")]
    LoggedIn,
    /// A wrong password, an unknown account, a disabled one, or a wait
    /// started after repeated failures (`data.reason`).
    #[serde(rename = "user.login_failed")]
    LoginFailed,
    #[serde(rename = "user.password_changed")]
    PasswordChanged,
    #[serde(rename = "user.password_reset")]
    PasswordReset,
    #[serde(rename = "user.email_changed")]
    EmailChanged,
    #[serde(rename = "user.disabled")]
    Disabled,
    #[serde(rename = "user.enabled")]
    Enabled,
    #[serde(rename = "user.deleted")]
    Deleted,
    #[serde(rename = "user.role_changed")]
    RoleChanged,
    /// Signed out, ended by the user or an administrator, or ended for
    /// safety (`data.reason` is the cause).
    #[serde(rename = "session.revoked")]
    SessionRevoked,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 12] = [
        Self::UserCreated,
        Self::EmailVerified,
        Self::LoggedIn,
        Self::LoginFailed,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::Disabled,
        Self::Enabled,
        Self::Deleted,
        Self::RoleChanged,
        Self::SessionRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::EmailVerified => "user.email_verified",
            Self::LoggedIn => "user.logged_in",
            Self::LoginFailed => "user.login_failed",
            Self::PasswordChanged => "user.password_changed",
            Self::PasswordReset => "user.password_reset",
            Self::EmailChanged => "user.email_changed",
            Self::Disabled => "user.disabled",
            Self::Enabled => "user.enabled",
            Self::Deleted => "user.deleted",
            Self::RoleChanged => "user.role_changed",
            Self::SessionRevoked => "session.revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The body of every webhook (Standard Webhooks' `type`, `timestamp`,
/// `data`), signed as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookPayload {
    #[serde(rename = "type")]
    pub kind: WebhookEvent,
    /// When it happened (RFC 3339, UTC).
    pub timestamp: String,
    /// [`PAYLOAD_VERSION`].
    pub version: u32,
    pub data: WebhookData,
}

/// What a webhook says about the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookData {
    /// The activity log's id for the event (also the `webhook-id`, less
    /// its `msg_` prefix).
    pub event_id: String,
    /// The account, as it was when the event happened; `None` for a
    /// failed log-in with a name no account has.
    pub user: Option<WebhookUser>,
    /// Why: a failed log-in's `wrong_password`, `unknown_account`,
    /// `disabled`, `ip` or `account` (a wait started); a revoked session's
    /// cause (`logout`, `ended_by_user`, `replaced`, `admin`,
    /// `password_changed`, …).
    pub reason: Option<EventReason>,
    /// The event's detail as the activity log has it: a changed email's
    /// `old → new`, a role's new name, a throttle's failure count.
    pub detail: Option<String>,
    /// An administrator (or the command line) did it.
    pub by_admin: bool,
    /// The client's address, as the proxy in front reported it.
    pub ip: Option<String>,
}

/// An account in a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookUser {
    pub id: String,
    /// `None` in `user.deleted` (the account is gone when it is logged).
    pub email: Option<String>,
    pub username: Option<String>,
}

/// An endpoint as an administrator registers or changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookSpec {
    /// Where events are posted: https (http only with
    /// `WEBHOOK_ALLOW_PRIVATE`). Redirects are not followed.
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// The events it receives; empty: all of them, including ones added
    /// by later versions.
    #[serde(default)]
    pub events: Vec<WebhookEvent>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEvent>,
    pub enabled: bool,
    /// Why it is off when Latchkey turned it off: `failing` (every
    /// delivery failed for a day).
    pub disabled_reason: Option<String>,
    /// Unix seconds of the first failure since the last success.
    pub failing_since: Option<i64>,
    /// Until when the secret before the last rotation still signs too.
    pub previous_secret_until: Option<i64>,
    /// Deliveries waiting (or being retried).
    pub pending: i64,
    /// Delivered and failed in the last 24 hours.
    pub delivered_24h: i64,
    pub failed_24h: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new endpoint, or a new secret: the secret is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    /// `whsec_` and 32 random bytes in base64: give it to the receiver's
    /// Standard Webhooks verifier.
    pub secret: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    #[serde(rename = "type")]
    pub kind: WebhookEvent,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The last answer's HTTP status; `None` when none came.
    pub last_status: Option<u16>,
    /// What went wrong last (a status, a timeout, a refused address).
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub latency_ms: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// A page of an endpoint's deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryPage {
    pub deliveries: Vec<WebhookDelivery>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_named_as_it_is_sent() {
        for event in WebhookEvent::ALL.iter() {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(*event));
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::Value::String(event.as_str().into())
            );
        }
    }
}
