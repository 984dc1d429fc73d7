//! Log-in throttling (DESIGN.md "rate limits"): after repeated failures an
//! account name or an IP must wait, and the wait doubles with each further
//! failure (capped), instead of a hard lock-out that an attacker could use
//! to keep the owner out for good. Unknown accounts are throttled exactly
//! like real ones, so a 429 tells nothing about an address. Sign-in by
//! emailed code and password reset stay open to the owner meanwhile.

use std::time::Duration;

use super::audit::Event;
use super::{ClientInfo, Services};
use crate::error::{AppError, Reason};
use crate::model::EventKind;

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_DELAY_SECS: u64 = 15 * 60;

/// What a failure counts against, with the failures it may have for free.
fn subjects(
    login: &str,
    client: &ClientInfo,
    (per_account, per_ip): (u64, u64),
) -> Vec<(String, u64)> {
    let mut keys = vec![(format!("login:acct:{login}"), per_account)];
    if let Some(ip) = &client.ip {
        keys.push((format!("login:ip:{ip}"), per_ip));
    }
    keys
}

/// 1 s after the first failure past the free ones, then 2, 4, … up to the cap.
pub fn delay_after(failures: u64, free: u64) -> Option<Duration> {
    let over = failures.checked_sub(free + 1)?;
    let secs = 1u64.checked_shl(over.min(20) as u32).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs.min(MAX_DELAY_SECS)))
}

impl Services {
    /// Refuses a log-in attempt while its account name or IP must wait.
    pub(super) async fn login_allowed(
        &self,
        login: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        for (key, _) in subjects(login, client, self.config.login_free_failures) {
            if let Some(left) = self.ephemeral.remaining(&format!("lock:{key}")).await? {
                let secs = left.as_secs_f64().ceil().max(1.0) as u64;
                return Err(AppError::rate_limited(secs, Reason::LoginThrottled));
            }
        }
        Ok(())
    }

    /// Counts a failed attempt; past the free ones, starts a wait.
    /// `user_id`: the account the name belongs to, if any (for the log).
    pub(super) async fn login_failed(
        &self,
        login: &str,
        user_id: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        for (key, free) in subjects(login, client, self.config.login_free_failures) {
            let (failures, _) = self.ephemeral.count(&format!("fail:{key}"), WINDOW).await?;
            if let Some(delay) = delay_after(failures, free) {
                tracing::info!(%key, failures, delay_secs = delay.as_secs(), "log-in throttled");
                self.ephemeral
                    .cooldown(&format!("lock:{key}"), delay)
                    .await?;
                let by = if key.starts_with("login:ip:") {
                    "ip"
                } else {
                    "account"
                };
                let mut event = Event::new(EventKind::LoginThrottled, client)
                    .reason(by)
                    .detail(format!("{failures} failures, wait {} s", delay.as_secs()));
                if let Some(id) = user_id {
                    event = event.user(id);
                }
                self.record(event).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_are_capped() {
        assert_eq!(delay_after(5, 5), None);
        assert_eq!(delay_after(6, 5), Some(Duration::from_secs(1)));
        assert_eq!(delay_after(7, 5), Some(Duration::from_secs(2)));
        assert_eq!(delay_after(10, 5), Some(Duration::from_secs(16)));
        assert_eq!(
            delay_after(1000, 5),
            Some(Duration::from_secs(MAX_DELAY_SECS))
        );
    }
}
