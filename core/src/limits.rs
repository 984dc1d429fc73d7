//! Fixed-window rate limits: a budget of hits per key per window, counted
//! atomically in the ephemeral store. Each flow names its budgets as
//! [`Rate`] constants (or settings) beside the rule they protect.

use std::time::Duration;

use crate::error::{Error, Reason};
use crate::Services;

/// At most `max` hits per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub max: u32,
    pub window: Duration,
}

impl Rate {
    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            window: Duration::from_secs(60),
        }
    }

    pub const fn per_hour(max: u32) -> Self {
        Self {
            max,
            window: Duration::from_secs(3600),
        }
    }
}

impl Services {
    /// Counts one hit on `key`; past `rate`, 429 with the seconds left.
    pub(crate) async fn limit(&self, key: &str, rate: Rate) -> Result<(), Error> {
        match self.ephemeral.hit(key, rate.window, rate.max).await? {
            None => Ok(()),
            Some(left) => Err(Error::rate_limited(
                left.as_secs().max(1),
                Reason::TooManyAttempts,
            )),
        }
    }
}
