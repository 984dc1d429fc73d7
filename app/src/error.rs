//! The one error type that crosses the wire: server functions return it, the
//! JSON API renders it as `{ "error": { "code", "message" } }`, and the UI shows
//! the `reason` in the reader's language next to `field`.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::locale::Locale;

pub use latchkey_types::{ErrorCode, Reason};

/// A reason's message in `locale`; `count` fills the reasons that name a number.
pub fn reason_text(reason: Reason, locale: Locale, count: u64) -> String {
    use crate::i18n::td_string as t;
    use Reason as R;
    match reason {
        R::EmailMissing => t!(locale, errors.email_missing).into(),
        R::EmailInvalid => t!(locale, errors.email_invalid).into(),
        R::UsernameLength => t!(locale, errors.username_length).into(),
        R::UsernameChars => t!(locale, errors.username_chars).into(),
        R::LoginMissing => t!(locale, errors.login_missing).into(),
        R::PasswordMissing => t!(locale, errors.password_missing).into(),
        R::CurrentPasswordMissing => t!(locale, errors.current_password_missing).into(),
        R::PasswordTooShort => t!(locale, errors.password_too_short, count = count),
        R::PasswordTooLong => t!(locale, errors.password_too_long, count = count),
        R::PasswordsDiffer => t!(locale, errors.passwords_differ).into(),
        R::PasswordUnchanged => t!(locale, errors.password_unchanged).into(),
        R::PasswordCommon => t!(locale, errors.password_common).into(),
        R::PasswordPersonal => t!(locale, errors.password_personal).into(),
        R::CodeFormat => t!(locale, errors.code_format).into(),
        R::AlreadyVerified => t!(locale, errors.already_verified).into(),
        R::SameEmail => t!(locale, errors.same_email).into(),
        R::ConfirmUsername => t!(locale, errors.confirm_username).into(),
        R::UnverifyRefused => t!(locale, errors.unverify_refused).into(),
        R::UnknownChoice => t!(locale, errors.unknown_choice).into(),
        R::BadText => t!(locale, errors.bad_text).into(),
        R::EmailTaken => t!(locale, errors.email_taken).into(),
        R::UsernameTaken => t!(locale, errors.username_taken).into(),
        R::WrongCredentials => t!(locale, errors.wrong_credentials).into(),
        R::CurrentPasswordWrong => t!(locale, errors.current_password_wrong).into(),
        R::AccountDisabled => t!(locale, errors.account_disabled).into(),
        R::DisabledNoReset => t!(locale, errors.disabled_no_reset).into(),
        R::VerifyFirst => t!(locale, errors.verify_first).into(),
        R::SignInRequired => t!(locale, errors.sign_in_required).into(),
        R::SessionEnded => t!(locale, errors.session_ended).into(),
        R::TokenReused => t!(locale, errors.token_reused).into(),
        R::AdminOnly => t!(locale, errors.admin_only).into(),
        R::CrossSite => t!(locale, errors.cross_site).into(),
        R::NoSuchSession => t!(locale, errors.no_such_session).into(),
        R::NoSuchUser => t!(locale, errors.no_such_user).into(),
        R::CodeCooldown => t!(locale, errors.code_cooldown, count = count),
        R::LoginThrottled => t!(locale, errors.login_throttled, count = count),
        R::TooManyAttempts => t!(locale, errors.too_many_attempts).into(),
        R::CodeWrong if count == 1 => t!(locale, errors.code_wrong_1).into(),
        R::CodeWrong => t!(locale, errors.code_wrong_n, count = count),
        R::CodeDead => t!(locale, errors.code_dead).into(),
        R::CodeGuessing => t!(locale, errors.code_guessing, count = count),
        R::CodeExpired => t!(locale, errors.code_expired).into(),
        R::LinkInvalid => t!(locale, errors.link_invalid).into(),
        R::LinkExpired => t!(locale, errors.link_expired).into(),
        R::LinkUsed => t!(locale, errors.link_used).into(),
        R::ResetOtherAccount => t!(locale, errors.reset_other_account).into(),
        R::ReauthRequired => t!(locale, errors.reauth_required, count = count),
        R::LastAdmin => t!(locale, errors.last_admin).into(),
        R::SecondFactorRequired => t!(locale, errors.second_factor_required).into(),
        R::SecondFactorWrong => t!(locale, errors.second_factor_wrong).into(),
        R::SecondFactorExpired => t!(locale, errors.second_factor_expired).into(),
        R::AuthenticatorOn => t!(locale, errors.authenticator_on).into(),
        R::AuthenticatorOff => t!(locale, errors.authenticator_off).into(),
        R::StepUpRequired => t!(locale, errors.step_up_required, count = count),
        R::PasskeysOff => t!(locale, errors.passkeys_off).into(),
        R::PasskeyCancelled => t!(locale, errors.passkey_cancelled).into(),
        R::PasskeyExpired => t!(locale, errors.passkey_expired).into(),
        R::PasskeyRefused => t!(locale, errors.passkey_refused).into(),
        R::PasskeyUnknown => t!(locale, errors.passkey_unknown).into(),
        R::PasskeyName => t!(locale, errors.passkey_name, count = count),
        R::TooManyPasskeys => t!(locale, errors.too_many_passkeys, count = count),
        R::NoSuchPasskey => t!(locale, errors.no_such_passkey).into(),
        R::AuthorizationExpired => t!(locale, errors.authorization_expired).into(),
        R::AppName => t!(locale, errors.app_name, count = count),
        R::AppAddress => t!(locale, errors.app_address).into(),
        R::AppTooManyAddresses => t!(locale, errors.app_too_many_addresses, count = count),
        R::AppNeedsRedirect => t!(locale, errors.app_needs_redirect).into(),
        R::AppNeedsGrant => t!(locale, errors.app_needs_grant).into(),
        R::AppCredentialsNeedSecret => t!(locale, errors.app_credentials_need_secret).into(),
        R::AppRefreshNeedsCode => t!(locale, errors.app_refresh_needs_code).into(),
        R::AppKindFixed => t!(locale, errors.app_kind_fixed).into(),
        R::AppNoSecret => t!(locale, errors.app_no_secret).into(),
        R::AppKeys => t!(locale, errors.app_keys).into(),
        R::NoSuchApp => t!(locale, errors.no_such_app).into(),
        R::ConfirmAppName => t!(locale, errors.confirm_app_name).into(),
        R::WebhookAddress => t!(locale, errors.webhook_address).into(),
        R::WebhookDescription => t!(locale, errors.webhook_description, count = count),
        R::TooManyWebhooks => t!(locale, errors.too_many_webhooks, count = count),
        R::NoSuchWebhook => t!(locale, errors.no_such_webhook).into(),
        R::NoSuchDelivery => t!(locale, errors.no_such_delivery).into(),
        R::UpstreamUnknown => t!(locale, errors.upstream_unknown).into(),
        R::UpstreamExpired => t!(locale, errors.upstream_expired).into(),
        R::UpstreamCancelled => t!(locale, errors.upstream_cancelled).into(),
        R::UpstreamFailed => t!(locale, errors.upstream_failed).into(),
        R::UpstreamNoEmail => t!(locale, errors.upstream_no_email).into(),
        R::UpstreamTaken => t!(locale, errors.upstream_taken).into(),
        R::UpstreamAlreadyLinked => t!(locale, errors.upstream_already_linked).into(),
        R::UpstreamLastWay => t!(locale, errors.upstream_last_way).into(),
        R::UpstreamLinkExpired => t!(locale, errors.upstream_link_expired).into(),
        R::NoSuchIdentity => t!(locale, errors.no_such_identity).into(),
        R::UpstreamTokenNotKept => t!(locale, errors.upstream_token_not_kept).into(),
        R::Unavailable => t!(locale, errors.unavailable).into(),
        R::Unreachable => t!(locale, errors.unreachable).into(),
        R::BadRequest => t!(locale, errors.bad_request).into(),
        R::TooLarge => t!(locale, errors.too_large).into(),
        R::Internal => t!(locale, errors.internal).into(),
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
    /// it is). For what only API clients see, like a malformed body. The
    /// domain's refusals arrive through `From<latchkey_core::Error>`, whose
    /// constructors (`invalid`, `unauthorized`, …) server code uses.
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
            ..Self::new(code, reason_text(reason, Locale::en, 0))
        }
    }

    /// What to show the reader: the reason in their language. Never the
    /// error's own `message`: a refused form's error comes back in the
    /// page's address (`__err`), which anyone can write into a link, so a
    /// page shows only words of its own. Errors without a reason come from
    /// API clients' mistakes and operators' tools, not from these forms.
    pub fn localized(&self, locale: Locale) -> String {
        let reason = self.reason.unwrap_or(match self.code {
            ErrorCode::Internal | ErrorCode::Unavailable => Reason::Internal,
            _ => Reason::BadRequest,
        });
        reason_text(reason, locale, self.count.unwrap_or_default())
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
            _ => Self::of(ErrorCode::Internal, Reason::Internal),
        }
    }
}

/// The domain's refusal, in words: the reason's English text, or the
/// operator-facing detail the domain gave instead.
#[cfg(feature = "ssr")]
impl From<latchkey_core::Error> for AppError {
    fn from(err: latchkey_core::Error) -> Self {
        // The one place a domain error meets the outside: what failed
        // underneath is logged here, never sent.
        if let Some(cause) = &err.cause {
            match err.code {
                ErrorCode::Internal => tracing::error!(%cause, "request failed"),
                _ => tracing::warn!(%cause, code = ?err.code, "request refused"),
            }
        }
        // An operator's detail says more than the reason's sentence.
        let message = match (err.reason, err.detail) {
            (_, Some(detail)) => detail,
            (Some(reason), None) => reason_text(reason, Locale::en, err.count.unwrap_or_default()),
            (None, None) => format!("{:?}", err.code),
        };
        Self {
            code: err.code,
            message,
            reason: err.reason,
            count: err.count,
            field: err.field,
            retry_after: err.retry_after,
        }
    }
}
