//! The one error type that crosses the wire: server functions return it, the
//! JSON API renders it as `{ "error": { "code", "message" } }`, and the UI shows
//! `message` next to `field`.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients match on these, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    EmailTaken,
    UsernameTaken,
    InvalidCredentials,
    AccountDisabled,
    EmailUnverified,
    Unauthorized,
    Forbidden,
    NotFound,
    RateLimited,
    CodeWrong,
    CodeExpired,
    CodeDead,
    WeakPassword,
    LinkInvalid,
    LinkExpired,
    Unavailable,
    BadRequest,
    PayloadTooLarge,
    /// The change would leave no enabled administrator.
    LastAdmin,
    Internal,
}

impl ErrorCode {
    /// The HTTP status the JSON API answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput => 422,
            Self::EmailTaken | Self::UsernameTaken => 409,
            Self::InvalidCredentials | Self::Unauthorized => 401,
            Self::AccountDisabled | Self::EmailUnverified | Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::RateLimited => 429,
            Self::CodeWrong | Self::CodeDead => 422,
            Self::CodeExpired | Self::LinkExpired => 410,
            Self::WeakPassword => 422,
            Self::LinkInvalid => 400,
            Self::Unavailable => 503,
            Self::BadRequest => 400,
            Self::PayloadTooLarge => 413,
            Self::LastAdmin => 409,
            Self::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The form field this error belongs to, when it belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds until a rate-limited request may be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn field(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(code, message)
        }
    }

    pub fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    /// The same error, shown under another form field.
    pub fn with_field(self, field: &str) -> Self {
        Self {
            field: self.field.map(|_| field.to_owned()),
            ..self
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::field(ErrorCode::InvalidInput, field, message)
    }

    pub fn forbidden() -> Self {
        Self::new(
            ErrorCode::Forbidden,
            "You need administrator rights for this.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Please sign in to continue.")
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on our side. Please try again.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "The service is briefly unavailable. Please try again in a moment.",
        )
    }

    /// The message for `field`, if this error belongs to it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Malformed form posts and bad arguments are the client's fault.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => Self::new(
                ErrorCode::BadRequest,
                "The request could not be read. Please check the form and try again.",
            ),
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::new(
                ErrorCode::Unavailable,
                "Could not reach the server. Check your connection and try again.",
            ),
            _ => Self::internal(),
        }
    }
}
