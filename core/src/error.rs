//! The domain's one error type: what was refused and why, as data. It
//! carries no words for the user (the edge that shows it translates
//! `reason`) and is never logged here: a store's failure travels in `cause`
//! and the edge's one conversion (`AppError::from`) logs it.

pub use latchkey_types::{ErrorCode, Reason};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} ({reason:?})")]
pub struct Error {
    pub code: ErrorCode,
    pub reason: Option<Reason>,
    /// The number a reason names (seconds, tries left, a length).
    pub count: Option<u64>,
    /// The form field this error belongs to, when it belongs to one.
    pub field: Option<String>,
    /// Seconds until a rate-limited request may be retried.
    pub retry_after: Option<u64>,
    /// Words for an operator (the command line), when no reason fits.
    pub detail: Option<String>,
    /// What failed underneath (a store, a worker), for the log only.
    pub cause: Option<String>,
    /// `MfaRequired`: the pending sign-in the second factor completes
    /// (boxed: errors travel in every `Result`, and this one is rare).
    pub challenge: Option<Box<Challenge>>,
}

/// The bearer secret of a sign-in waiting for its second factor. Never
/// printed: an error's `Debug` may reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge(pub String);

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Challenge(…)")
    }
}

impl Error {
    /// The error of `code` that `reason` explains.
    pub fn of(code: ErrorCode, reason: Reason) -> Self {
        Self {
            code,
            reason: Some(reason),
            count: None,
            field: None,
            retry_after: None,
            detail: None,
            cause: None,
            challenge: None,
        }
    }

    /// An error only an operator sees, in their words.
    pub fn detailed(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            reason: None,
            detail: Some(detail.into()),
            ..Self::of(code, Reason::Internal)
        }
    }

    /// `of`, for a reason that names a number.
    pub fn counted(code: ErrorCode, reason: Reason, count: u64) -> Self {
        Self {
            count: Some(count),
            ..Self::of(code, reason)
        }
    }

    /// The same error, tied to a form field.
    pub fn on(self, field: &str) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..self
        }
    }

    pub fn rate_limited(retry_after_secs: u64, reason: Reason) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::counted(ErrorCode::RateLimited, reason, retry_after_secs)
        }
    }

    /// The same error, shown under another form field.
    pub fn with_field(self, field: &str) -> Self {
        Self {
            field: self.field.map(|_| field.to_owned()),
            ..self
        }
    }

    /// Bad input in `field`.
    pub fn invalid(field: &str, reason: Reason) -> Self {
        Self::of(ErrorCode::InvalidInput, reason).on(field)
    }

    pub fn forbidden() -> Self {
        Self::of(ErrorCode::Forbidden, Reason::AdminOnly)
    }

    pub fn unauthorized() -> Self {
        Self::of(ErrorCode::Unauthorized, Reason::SignInRequired)
    }

    pub fn account_disabled() -> Self {
        Self::of(ErrorCode::AccountDisabled, Reason::AccountDisabled)
    }

    /// The first factor was right; `challenge` continues with the second.
    pub fn second_factor_required(challenge: String) -> Self {
        Self {
            challenge: Some(Box::new(Challenge(challenge))),
            ..Self::of(ErrorCode::MfaRequired, Reason::SecondFactorRequired)
        }
    }

    pub fn internal() -> Self {
        Self::of(ErrorCode::Internal, Reason::Internal)
    }

    pub fn unavailable() -> Self {
        Self::of(ErrorCode::Unavailable, Reason::Unavailable)
    }

    /// The same error, with what failed underneath for the log.
    pub fn caused_by(self, cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..self
        }
    }

    /// Whether this error belongs to `field`.
    pub fn is_for(&self, field: &str) -> bool {
        self.field.as_deref() == Some(field)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
