//! The admin overview: what happened on each of the last days, counted
//! from the activity log, the mail outbox and the webhook deliveries.

use serde::{Deserialize, Serialize};

/// How many days the overview covers, today included.
pub const OVERVIEW_DAYS: usize = 30;

/// The last [`OVERVIEW_DAYS`] days (UTC), oldest first; the last is today
/// so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    pub days: Vec<DayCounts>,
    /// Accounts now: all of them, and how many are disabled.
    pub accounts: u64,
    pub disabled_accounts: u64,
}

/// One day's counts. Mails and webhook deliveries count on the day they
/// were sent (delivered) or given up on (`*_failed`); those still being
/// tried are in neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayCounts {
    /// The day's first second (Unix time, 00:00 UTC).
    pub day: i64,
    pub sign_ups: u64,
    /// Accounts that signed in that day (by password, code, passkey or a
    /// second factor), each counted once.
    pub active_users: u64,
    pub logins: u64,
    /// Wrong passwords, unknown accounts, disabled ones and wrong
    /// second-factor codes.
    pub failed_logins: u64,
    /// Waits started after repeated failures.
    pub throttled_logins: u64,
    pub codes_sent: u64,
    pub mails_sent: u64,
    pub mails_failed: u64,
    pub webhooks_delivered: u64,
    pub webhooks_failed: u64,
    /// Failed log-ins far above the window's usual day: at least
    /// 3 × the median and at least 20 more than it.
    pub failed_login_spike: bool,
}
