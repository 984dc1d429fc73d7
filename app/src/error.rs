//! The one error type that crosses the wire: server functions return it, the
//! JSON API renders it as `{ "error": { "code", "message" } }`, and the UI shows
//! the `reason` in the reader's language next to `field`.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::locale::Locale;

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
    /// The change needs a fresh proof of identity (sign in again).
    ReauthRequired,
    Internal,
}

impl ErrorCode {
    /// The HTTP status the JSON API answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput => 422,
            Self::EmailTaken | Self::UsernameTaken => 409,
            Self::InvalidCredentials | Self::Unauthorized => 401,
            Self::AccountDisabled
            | Self::EmailUnverified
            | Self::Forbidden
            | Self::ReauthRequired => 403,
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

/// Which message an error carries: a stable name API clients may match on
/// (finer than `code`), and the key the UI translates it by. The English
/// `message` is this reason's English text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    EmailMissing,
    EmailInvalid,
    UsernameLength,
    UsernameChars,
    LoginMissing,
    PasswordMissing,
    CurrentPasswordMissing,
    /// `count`: the minimum length.
    PasswordTooShort,
    /// `count`: the maximum length.
    PasswordTooLong,
    PasswordsDiffer,
    PasswordUnchanged,
    PasswordCommon,
    PasswordPersonal,
    CodeFormat,
    AlreadyVerified,
    SameEmail,
    ConfirmUsername,
    UnverifyRefused,
    UnknownChoice,
    BadText,
    EmailTaken,
    UsernameTaken,
    WrongCredentials,
    CurrentPasswordWrong,
    AccountDisabled,
    DisabledNoReset,
    VerifyFirst,
    SignInRequired,
    SessionEnded,
    TokenReused,
    AdminOnly,
    CrossSite,
    NoSuchSession,
    NoSuchUser,
    /// `count`: seconds to wait.
    CodeCooldown,
    /// `count`: seconds to wait.
    LoginThrottled,
    TooManyAttempts,
    /// `count`: tries left.
    CodeWrong,
    CodeDead,
    /// `count`: seconds until codes for the address work again.
    CodeGuessing,
    CodeExpired,
    LinkInvalid,
    LinkExpired,
    LinkUsed,
    ResetOtherAccount,
    /// `count`: minutes a fresh sign-in counts as proof.
    ReauthRequired,
    LastAdmin,
    Unavailable,
    Unreachable,
    BadRequest,
    TooLarge,
    Internal,
}

impl Reason {
    /// The message in `locale`; `count` fills the reasons that name a number.
    pub fn text(self, locale: Locale, count: u64) -> String {
        use crate::i18n::td_string as t;
        match self {
            Self::EmailMissing => t!(locale, errors.email_missing).into(),
            Self::EmailInvalid => t!(locale, errors.email_invalid).into(),
            Self::UsernameLength => t!(locale, errors.username_length).into(),
            Self::UsernameChars => t!(locale, errors.username_chars).into(),
            Self::LoginMissing => t!(locale, errors.login_missing).into(),
            Self::PasswordMissing => t!(locale, errors.password_missing).into(),
            Self::CurrentPasswordMissing => t!(locale, errors.current_password_missing).into(),
            Self::PasswordTooShort => t!(locale, errors.password_too_short, count = count),
            Self::PasswordTooLong => t!(locale, errors.password_too_long, count = count),
            Self::PasswordsDiffer => t!(locale, errors.passwords_differ).into(),
            Self::PasswordUnchanged => t!(locale, errors.password_unchanged).into(),
            Self::PasswordCommon => t!(locale, errors.password_common).into(),
            Self::PasswordPersonal => t!(locale, errors.password_personal).into(),
            Self::CodeFormat => t!(locale, errors.code_format).into(),
            Self::AlreadyVerified => t!(locale, errors.already_verified).into(),
            Self::SameEmail => t!(locale, errors.same_email).into(),
            Self::ConfirmUsername => t!(locale, errors.confirm_username).into(),
            Self::UnverifyRefused => t!(locale, errors.unverify_refused).into(),
            Self::UnknownChoice => t!(locale, errors.unknown_choice).into(),
            Self::BadText => t!(locale, errors.bad_text).into(),
            Self::EmailTaken => t!(locale, errors.email_taken).into(),
            Self::UsernameTaken => t!(locale, errors.username_taken).into(),
            Self::WrongCredentials => t!(locale, errors.wrong_credentials).into(),
            Self::CurrentPasswordWrong => t!(locale, errors.current_password_wrong).into(),
            Self::AccountDisabled => t!(locale, errors.account_disabled).into(),
            Self::DisabledNoReset => t!(locale, errors.disabled_no_reset).into(),
            Self::VerifyFirst => t!(locale, errors.verify_first).into(),
            Self::SignInRequired => t!(locale, errors.sign_in_required).into(),
            Self::SessionEnded => t!(locale, errors.session_ended).into(),
            Self::TokenReused => t!(locale, errors.token_reused).into(),
            Self::AdminOnly => t!(locale, errors.admin_only).into(),
            Self::CrossSite => t!(locale, errors.cross_site).into(),
            Self::NoSuchSession => t!(locale, errors.no_such_session).into(),
            Self::NoSuchUser => t!(locale, errors.no_such_user).into(),
            Self::CodeCooldown => t!(locale, errors.code_cooldown, count = count),
            Self::LoginThrottled => t!(locale, errors.login_throttled, count = count),
            Self::TooManyAttempts => t!(locale, errors.too_many_attempts).into(),
            Self::CodeWrong if count == 1 => t!(locale, errors.code_wrong_1).into(),
            Self::CodeWrong => t!(locale, errors.code_wrong_n, count = count),
            Self::CodeDead => t!(locale, errors.code_dead).into(),
            Self::CodeGuessing => t!(locale, errors.code_guessing, count = count),
            Self::CodeExpired => t!(locale, errors.code_expired).into(),
            Self::LinkInvalid => t!(locale, errors.link_invalid).into(),
            Self::LinkExpired => t!(locale, errors.link_expired).into(),
            Self::LinkUsed => t!(locale, errors.link_used).into(),
            Self::ResetOtherAccount => t!(locale, errors.reset_other_account).into(),
            Self::ReauthRequired => t!(locale, errors.reauth_required, count = count),
            Self::LastAdmin => t!(locale, errors.last_admin).into(),
            Self::Unavailable => t!(locale, errors.unavailable).into(),
            Self::Unreachable => t!(locale, errors.unreachable).into(),
            Self::BadRequest => t!(locale, errors.bad_request).into(),
            Self::TooLarge => t!(locale, errors.too_large).into(),
            Self::Internal => t!(locale, errors.internal).into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    /// In English, for logs and API clients; the UI shows `reason` in the
    /// reader's language.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The number a reason names (seconds, tries left, a length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The form field this error belongs to, when it belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds until a rate-limited request may be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl AppError {
    /// An error with a message of its own (no reason: the UI shows it as
    /// it is). For what only API clients see, like a malformed body.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
            count: None,
            field: None,
            retry_after: None,
        }
    }

    /// The error of `code` that `reason` explains.
    pub fn of(code: ErrorCode, reason: Reason) -> Self {
        Self {
            reason: Some(reason),
            ..Self::new(code, reason.text(Locale::en, 0))
        }
    }

    /// `of`, for a reason that names a number.
    pub fn counted(code: ErrorCode, reason: Reason, count: u64) -> Self {
        Self {
            reason: Some(reason),
            count: Some(count),
            ..Self::new(code, reason.text(Locale::en, count))
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

    pub fn internal() -> Self {
        Self::of(ErrorCode::Internal, Reason::Internal)
    }

    pub fn unavailable() -> Self {
        Self::of(ErrorCode::Unavailable, Reason::Unavailable)
    }

    /// What to show the reader: the reason in their language, else the
    /// server's own words.
    pub fn localized(&self, locale: Locale) -> String {
        match self.reason {
            Some(reason) => reason.text(locale, self.count.unwrap_or_default()),
            None => self.message.clone(),
        }
    }

    /// Whether this error belongs to `field`.
    pub fn is_for(&self, field: &str) -> bool {
        self.field.as_deref() == Some(field)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Malformed form posts and bad arguments are the client's fault.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => {
                Self::of(ErrorCode::BadRequest, Reason::BadRequest)
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                Self::of(ErrorCode::Unavailable, Reason::Unreachable)
            }
            _ => Self::internal(),
        }
    }
}
