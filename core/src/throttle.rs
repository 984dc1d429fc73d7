//! Log-in throttling: each account and each client address has a few free
//! attempts in a 15-minute window; past them every attempt must wait, and
//! the wait doubles (capped), instead of a hard lock-out that an attacker
//! could use to keep the owner out for good.
//!
//! An attempt is counted atomically *before* the password is hashed, so a
//! burst of concurrent guesses gets the free attempts and no more; a
//! success gives its attempt back. The account budget is keyed by the
//! account's id when the name resolves (its email and username share one
//! budget), by the normalised name otherwise (unknown names are throttled
//! exactly like real ones, so a 429 tells nothing about an address).
//!
//! A browser that has signed in to the account before carries a signed
//! device cookie (OWASP "device cookies"); it has a budget of its own, so a
//! stranger exhausting the account's budget does not lock the owner out.

use std::time::Duration;

use crate::audit::Event;
use crate::ephemeral::{Attempt, Budget};
use crate::error::{Error, Reason};
use crate::model::{EventKind, EventReason};
use crate::{ClientInfo, Services};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// Whose budget an attempt spends.
pub(crate) enum Subject<'a> {
    /// A known account, from a browser unknown to it.
    Account(&'a str),
    /// A name no account has (normalised).
    Name(&'a str),
    /// A browser that has signed in to the account before (the device
    /// cookie's id).
    Device(&'a str),
    /// The second step of a known account's sign-in: codes from its
    /// authenticator app and its recovery codes share one budget.
    SecondFactor(&'a str),
}

/// Wrong second factors an account gets in a window before each further
/// one waits (the wait doubles, as for passwords).
const SECOND_FACTOR_FREE: u64 = 5;

/// The budgets an attempt by `subject` from `client` spends.
fn budgets(
    subject: &Subject,
    client: &ClientInfo,
    (per_account, per_ip): (u64, u64),
) -> Vec<Budget> {
    let (key, free) = match subject {
        Subject::Account(id) => (format!("login:acct:{id}"), per_account),
        Subject::Name(name) => (format!("login:name:{name}"), per_account),
        Subject::Device(id) => (format!("login:device:{id}"), per_account),
        Subject::SecondFactor(id) => (format!("login:2fa:{id}"), SECOND_FACTOR_FREE),
    };
    let mut budgets = vec![Budget { key, free }];
    if let Some(ip) = client.limit_key() {
        budgets.push(Budget {
            key: format!("login:ip:{ip}"),
            free: per_ip,
        });
    }
    budgets
}

/// A counted log-in attempt, to settle once its outcome is known.
pub(crate) struct Ticket {
    budgets: Vec<Budget>,
    /// Per budget: attempts so far and the wait this one started.
    counted: Vec<(u64, Option<Duration>)>,
}

impl Services {
    /// Counts a log-in attempt, or refuses it while a wait runs.
    pub(crate) async fn login_attempt(
        &self,
        subject: Subject<'_>,
        client: &ClientInfo,
    ) -> Result<Ticket, Error> {
        let budgets = budgets(&subject, client, self.config.login_free_failures);
        match self.ephemeral.attempt(&budgets, WINDOW, MAX_WAIT).await? {
            Attempt::Allowed(counted) => Ok(Ticket { budgets, counted }),
            Attempt::Wait(left) => {
                let secs = left.as_secs_f64().ceil().max(1.0) as u64;
                Err(Error::rate_limited(secs, Reason::LoginThrottled))
            }
        }
    }

    /// The attempt succeeded: it does not count against anyone.
    pub(crate) async fn login_succeeded(&self, ticket: Ticket) -> Result<(), Error> {
        Ok(self.ephemeral.give_back(&ticket.budgets).await?)
    }

    /// The attempt failed; when it started a wait, that is logged.
    /// `user_id`: the account the name belongs to, if any.
    pub(crate) async fn login_failed(
        &self,
        ticket: Ticket,
        user_id: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        for (budget, (attempts, wait)) in ticket.budgets.iter().zip(ticket.counted) {
            let Some(wait) = wait else { continue };
            tracing::info!(attempts, wait_secs = wait.as_secs(), "log-in throttled");
            let by = if budget.key.starts_with("login:ip:") {
                EventReason::Ip
            } else {
                EventReason::Account
            };
            let mut event = Event::new(EventKind::LoginThrottled, client)
                .reason(by)
                .detail(attempts.to_string());
            if let Some(id) = user_id {
                event = event.user(id);
            }
            self.record(event).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ephemeral::wait_after;
    use super::*;

    #[test]
    fn waits_double_and_are_capped() {
        assert_eq!(wait_after(4, 5, MAX_WAIT), None);
        assert_eq!(wait_after(5, 5, MAX_WAIT), Some(Duration::from_secs(1)));
        assert_eq!(wait_after(6, 5, MAX_WAIT), Some(Duration::from_secs(2)));
        assert_eq!(wait_after(9, 5, MAX_WAIT), Some(Duration::from_secs(16)));
        assert_eq!(wait_after(1000, 5, MAX_WAIT), Some(MAX_WAIT));
    }

    #[test]
    fn an_ipv6_client_spends_its_64s_budget() {
        let client = ClientInfo {
            ip: Some("2001:db8:1:2::99".into()),
            ..Default::default()
        };
        let keys: Vec<_> = budgets(&Subject::Account("u1"), &client, (5, 20))
            .into_iter()
            .map(|b| b.key)
            .collect();
        assert_eq!(keys, ["login:acct:u1", "login:ip:2001:db8:1:2::/64"]);
    }
}
