//! What an error is, for machines: a stable code (which decides the HTTP
//! status) and a finer reason, which the UI translates. Neither carries
//! text: words belong to the edge that shows them.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients match on these, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The first factor was right; a second one must follow
    /// (`auth/login/second-factor` with the answer's `mfa_token`).
    MfaRequired,
    /// The account already has that factor, or lacks the one named.
    Conflict,
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
            | Self::ReauthRequired
            | Self::MfaRequired => 403,
            Self::NotFound => 404,
            Self::RateLimited => 429,
            Self::CodeWrong | Self::CodeDead => 422,
            Self::CodeExpired | Self::LinkExpired => 410,
            Self::WeakPassword => 422,
            Self::LinkInvalid => 400,
            Self::Unavailable => 503,
            Self::BadRequest => 400,
            Self::PayloadTooLarge => 413,
            Self::LastAdmin | Self::Conflict => 409,
            Self::Internal => 500,
        }
    }
}

/// Why an error happened: a stable name API clients may match on (finer
/// than `code`), and the key the edge translates it by (the API's English
/// `message` is this reason's English text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// A code from the authenticator app (or a recovery code) must follow.
    SecondFactorRequired,
    /// Neither a current code from the app nor an unused recovery code.
    SecondFactorWrong,
    /// The step between the password and the code expired or was used:
    /// sign in again.
    SecondFactorExpired,
    AuthenticatorOn,
    AuthenticatorOff,
    /// `count`: minutes a proof of the second factor lets the session make
    /// such changes; confirm with a code first (`me/second-factors/step-up`).
    StepUpRequired,
    /// Passkeys are off: `PUBLIC_URL` names no domain (browsers refuse
    /// them on an IP address).
    PasskeysOff,
    /// The browser made no passkey (cancelled, timed out, or it has no
    /// passkey support or no JavaScript).
    PasskeyCancelled,
    /// The ceremony expired or was used: start again.
    PasskeyExpired,
    /// The browser's answer did not verify.
    PasskeyRefused,
    /// No account here has this passkey (it may have been removed).
    PasskeyUnknown,
    /// `count`: the longest name, in characters.
    PasskeyName,
    /// `count`: the most passkeys an account may have.
    TooManyPasskeys,
    NoSuchPasskey,
    /// An app's sign-in request waited too long (or is not ours): start
    /// again from the app.
    AuthorizationExpired,
    /// `count`: the longest an app's name may be.
    AppName,
    /// An app's address is not absolute https (http only on loopback), or
    /// has a wildcard or fragment.
    AppAddress,
    /// `count`: the most addresses of one kind an app may have.
    AppTooManyAddresses,
    AppNeedsRedirect,
    AppNeedsGrant,
    AppCredentialsNeedSecret,
    AppRefreshNeedsCode,
    /// An app stays public or confidential.
    AppKindFixed,
    AppNoSecret,
    /// An app's keys are not a JWK Set of public Ed25519 or P-256 keys.
    AppKeys,
    NoSuchApp,
    /// Deleting an app asks for its name, typed exactly.
    ConfirmAppName,
    /// No provider of that name is enabled here.
    UpstreamUnknown,
    /// The sign-in at another provider took too long, was finished
    /// already, or began in another browser: start again.
    UpstreamExpired,
    /// The person cancelled at the provider.
    UpstreamCancelled,
    /// The provider did not answer, or its answer did not verify.
    UpstreamFailed,
    /// The provider shared no email it has verified: no account can be
    /// opened or found by it.
    UpstreamNoEmail,
    /// That account at the provider is linked to another account here.
    UpstreamTaken,
    /// This account already has an account at that provider linked.
    UpstreamAlreadyLinked,
    /// Removing it would leave no way to sign in: set a password or add a
    /// passkey first.
    UpstreamLastWay,
    /// The link waiting for a sign-in expired or belongs to another
    /// account.
    UpstreamLinkExpired,
    NoSuchIdentity,
    /// No access token of that provider is kept for this account: the
    /// deployment keeps none (`UPSTREAM_KEEP_TOKENS`), or the one kept no
    /// longer opens (sealed under another deployment secret).
    UpstreamTokenNotKept,
    /// A webhook's address is not absolute https, or names a loopback or
    /// private address (without `WEBHOOK_ALLOW_PRIVATE`).
    WebhookAddress,
    /// `count`: the longest a webhook's description may be.
    WebhookDescription,
    /// `count`: the most webhook endpoints a deployment may have.
    TooManyWebhooks,
    NoSuchWebhook,
    NoSuchDelivery,
    Unavailable,
    Unreachable,
    BadRequest,
    TooLarge,
    Internal,
}
