//! Data shared by the server and the browser.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user as shown to the user themself (never includes secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: i64,
    /// The language of their mail and, when signed in, their pages: `en`
    /// or `ko`.
    pub locale: String,
    /// Whether the account has a password (one signed up by another
    /// person's address and then claimed by its owner may not: its owner
    /// signs in by emailed code, or sets one with a reset link).
    #[serde(default)]
    pub has_password: bool,
}

/// The signed-in user plus what the current session token says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    pub session_id: String,
    /// Unix seconds at which the current access token expires.
    pub access_expires_at: i64,
    /// Unix seconds at which this session ends (signed in until).
    pub session_expires_at: i64,
}

/// One signed-in device, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: String,
    /// "Chrome 131 · Linux" from the user agent; None when it says nothing.
    pub device: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// The session making this request.
    pub current: bool,
}

/// What happened, in the security activity log. The names are stable: API
/// clients and the UI match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SignUp,
    LoginSucceeded,
    /// `reason`: `wrong_password`, `unknown_account` or `disabled`.
    LoginFailed,
    /// Repeated failures started a wait for this account name or IP.
    LoginThrottled,
    /// `detail`: the purpose (`verify`, `change`, `signin`).
    CodeSent,
    /// `reason`: `wrong`, `dead` or `expired`; `detail`: the purpose.
    CodeFailed,
    EmailVerified,
    /// `detail`: `old → new`.
    EmailChanged,
    /// `detail`: `old → new`.
    UsernameChanged,
    PasswordResetRequested,
    PasswordReset,
    PasswordChanged,
    Logout,
    /// `reason` says why; `detail` how many, when more than one.
    SessionRevoked,
    AccountDeleted,
    /// Admin actions (always with an actor, or `reason: cli`).
    UserDisabled,
    UserEnabled,
    /// `detail`: the new role.
    RoleChanged,
    /// The outbox gave up on a mail; `detail`: its recipient.
    MailFailed,
    /// An authenticator app was confirmed (`detail`: `totp`).
    SecondFactorAdded,
    /// An authenticator app was removed, with the recovery codes.
    SecondFactorRemoved,
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRenewed,
    /// A recovery code stood in for the app; `detail`: how many are left.
    RecoveryCodeUsed,
    /// `detail`: the passkey's name.
    PasskeyAdded,
    /// `detail`: the passkey's name.
    PasskeyRemoved,
    /// An account at another provider was linked; `detail`: the provider.
    IdentityLinked,
    /// A linked account at another provider was removed; `detail`: the
    /// provider.
    IdentityUnlinked,
    /// An app got a user's sign-in (a code redeemed); `detail`: the app.
    AppAuthorized,
    /// The user took an app's access back; `detail`: the app.
    AppRevoked,
    /// Admin: an app was registered, changed, given a new secret or
    /// deleted; `detail`: the app.
    AppRegistered,
    AppChanged,
    AppSecretRotated,
    AppDeleted,
    /// Admin: a webhook endpoint was registered, changed, given a new
    /// secret or deleted; `detail`: its address.
    WebhookAdded,
    WebhookChanged,
    WebhookSecretRotated,
    WebhookDeleted,
    /// Every delivery to an endpoint failed for a day: Latchkey turned it
    /// off; `detail`: its address.
    WebhookDisabled,
}

impl EventKind {
    pub const ALL: [EventKind; 38] = [
        Self::SignUp,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginThrottled,
        Self::CodeSent,
        Self::CodeFailed,
        Self::EmailVerified,
        Self::EmailChanged,
        Self::UsernameChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::Logout,
        Self::SessionRevoked,
        Self::AccountDeleted,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::RoleChanged,
        Self::MailFailed,
        Self::SecondFactorAdded,
        Self::SecondFactorRemoved,
        Self::RecoveryCodesRenewed,
        Self::RecoveryCodeUsed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::AppAuthorized,
        Self::AppRevoked,
        Self::AppRegistered,
        Self::AppChanged,
        Self::AppSecretRotated,
        Self::AppDeleted,
        Self::WebhookAdded,
        Self::WebhookChanged,
        Self::WebhookSecretRotated,
        Self::WebhookDeleted,
        Self::WebhookDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
            Self::CodeSent => "code_sent",
            Self::CodeFailed => "code_failed",
            Self::EmailVerified => "email_verified",
            Self::EmailChanged => "email_changed",
            Self::UsernameChanged => "username_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::AccountDeleted => "account_deleted",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::RoleChanged => "role_changed",
            Self::MailFailed => "mail_failed",
            Self::SecondFactorAdded => "second_factor_added",
            Self::SecondFactorRemoved => "second_factor_removed",
            Self::RecoveryCodesRenewed => "recovery_codes_renewed",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::AppAuthorized => "app_authorized",
            Self::AppRevoked => "app_revoked",
            Self::AppRegistered => "app_registered",
            Self::AppChanged => "app_changed",
            Self::AppSecretRotated => "app_secret_rotated",
            Self::AppDeleted => "app_deleted",
            Self::WebhookAdded => "webhook_added",
            Self::WebhookChanged => "webhook_changed",
            Self::WebhookSecretRotated => "webhook_secret_rotated",
            Self::WebhookDeleted => "webhook_deleted",
            Self::WebhookDisabled => "webhook_disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why an event happened, when its kind alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventReason {
    /// Log-in failures.
    WrongPassword,
    /// The password was right; the code from the app (or a recovery code)
    /// was not.
    WrongSecondFactor,
    UnknownAccount,
    Disabled,
    /// Throttling: which budget ran out (`detail`: the failures counted).
    Ip,
    Account,
    /// Code failures.
    Wrong,
    Dead,
    Expired,
    Guessing,
    /// Ended sessions.
    Logout,
    EndedByUser,
    SignedOutElsewhere,
    RefreshTokenReuse,
    /// The browser that held the session signed in again.
    Replaced,
    EmailChanged,
    EmailReverted,
    /// An administrator acted.
    Admin,
    /// The operator's command line acted (no admin account).
    Cli,
    /// An address change was undone from the old mailbox.
    Reverted,
    /// Verification: the password set before the address was proven was
    /// cleared; the address was proven by the code.
    PasswordCleared,
    AddressProven,
}

impl EventReason {
    pub const ALL: [EventReason; 22] = [
        Self::WrongPassword,
        Self::WrongSecondFactor,
        Self::UnknownAccount,
        Self::Disabled,
        Self::Ip,
        Self::Account,
        Self::Wrong,
        Self::Dead,
        Self::Expired,
        Self::Guessing,
        Self::Logout,
        Self::EndedByUser,
        Self::SignedOutElsewhere,
        Self::RefreshTokenReuse,
        Self::Replaced,
        Self::EmailChanged,
        Self::EmailReverted,
        Self::Admin,
        Self::Cli,
        Self::Reverted,
        Self::PasswordCleared,
        Self::AddressProven,
    ];

    /// The name stored in the log (and sent on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongPassword => "wrong_password",
            Self::WrongSecondFactor => "wrong_second_factor",
            Self::UnknownAccount => "unknown_account",
            Self::Disabled => "disabled",
            Self::Ip => "ip",
            Self::Account => "account",
            Self::Wrong => "wrong",
            Self::Dead => "dead",
            Self::Expired => "expired",
            Self::Guessing => "guessing",
            Self::Logout => "logout",
            Self::EndedByUser => "ended_by_user",
            Self::SignedOutElsewhere => "signed_out_elsewhere",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::Replaced => "replaced",
            Self::EmailChanged => "email_changed",
            Self::EmailReverted => "email_reverted",
            Self::Admin => "admin",
            Self::Cli => "cli",
            Self::Reverted => "reverted",
            Self::PasswordCleared => "password_cleared",
            Self::AddressProven => "address_proven",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What one of the admin console's buttons does to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    Disable,
    Enable,
    MakeAdmin,
    MakeMember,
    VerifyEmail,
    SendReset,
    EndSessions,
    /// One session, named beside the action.
    EndSession,
    /// Remove the authenticator app and recovery codes (a lost phone).
    ResetSecondFactors,
}

impl AdminAction {
    pub const ALL: [AdminAction; 9] = [
        Self::Disable,
        Self::Enable,
        Self::MakeAdmin,
        Self::MakeMember,
        Self::VerifyEmail,
        Self::SendReset,
        Self::EndSessions,
        Self::EndSession,
        Self::ResetSecondFactors,
    ];

    /// The name a form posts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::MakeAdmin => "make_admin",
            Self::MakeMember => "make_member",
            Self::VerifyEmail => "verify_email",
            Self::SendReset => "send_reset",
            Self::EndSessions => "end_sessions",
            Self::EndSession => "end_session",
            Self::ResetSecondFactors => "reset_second_factors",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An account named by an event; `username`/`email` are None once the
/// account is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef {
    pub id: String,
    pub username: Option<String>,
    pub email: Option<String>,
}

/// One entry of the security activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEvent {
    pub id: String,
    pub at: i64,
    pub kind: EventKind,
    pub reason: Option<EventReason>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    /// "Chrome 131 · Linux", from the user agent.
    pub device: Option<String>,
    /// Done by an administrator (or the operator's command line).
    pub by_admin: bool,
    /// The account it happened to (admin views only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserRef>,
    /// The administrator who did it (admin views only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<UserRef>,
}

/// A page of the activity log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    /// Pass as `before` for the next (older) page; None on the last one.
    pub next_before: Option<String>,
}

/// A user as an administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
    /// Last use of any session (unix seconds).
    pub last_seen_at: Option<i64>,
}

/// One page of the admin user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub users: Vec<AdminUser>,
    /// Users matching the filters, on all pages.
    pub total: i64,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// Everything the admin console shows about one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDetail {
    pub user: AdminUser,
    /// Live sessions, most recently used first.
    pub sessions: Vec<SessionInfo>,
    /// Their latest activity.
    pub activity: Vec<ActivityEvent>,
    /// Their authenticator app and recovery codes.
    #[serde(default)]
    pub second_factors: SecondFactors,
    /// Their accounts at other providers that sign in here.
    #[serde(default)]
    pub identities: Vec<LinkedIdentity>,
}

/// The admin user list's search, filters and page (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct UserQuery {
    /// Part of an email or username.
    pub q: Option<String>,
    pub role: Option<Role>,
    pub verified: Option<bool>,
    pub disabled: Option<bool>,
    /// 1-based; default 1.
    pub page: Option<u32>,
    /// 1–100; default 25.
    pub per_page: Option<u32>,
}

/// What an admin changes about a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserChange {
    pub role: Option<Role>,
    /// Disabling ends every session of the user.
    pub disabled: Option<bool>,
    /// Only `true`: mark the address verified by hand.
    pub email_verified: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_match_the_wire() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        for action in AdminAction::ALL {
            assert_eq!(AdminAction::parse(action.as_str()), Some(action));
        }
        for reason in EventReason::ALL {
            assert_eq!(EventReason::parse(reason.as_str()), Some(reason));
            let wire = serde_json::to_string(&reason).unwrap();
            assert_eq!(wire, format!("\"{}\"", reason.as_str()));
        }
    }
}

/// The second factors an account has, as its owner sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactors {
    /// Unix seconds the authenticator app was confirmed; `None`: no app.
    pub authenticator_since: Option<i64>,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// An app was set up but not yet confirmed with a code.
    pub authenticator_pending: bool,
    /// Passkeys on the account (each signs in by itself).
    #[serde(default)]
    pub passkeys: u32,
}

/// An authenticator app being set up: scan the QR code (or type the
/// secret), then confirm with a code the app shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthenticatorSetup {
    /// The `otpauth://totp/…` URI the QR code holds.
    pub uri: String,
    /// The shared secret in base32, in groups of four for typing.
    pub secret: String,
    /// The URI as a QR code, an SVG document drawn on the server.
    pub qr_svg: String,
}

/// A passkey on an account, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyInfo {
    /// The passkey's id here (not the credential's).
    pub id: String,
    /// What its owner called it ("Phone", "Work laptop").
    pub name: String,
    /// Unix seconds it was added.
    pub created_at: i64,
    /// Unix seconds it last signed in; `None`: never.
    pub last_used_at: Option<i64>,
}

/// An identity provider this deployment offers on its sign-in page
/// ("Sign in with Kakao").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpstreamInfo {
    /// Its id in addresses (`/login/with/kakao`): `google`, `kakao`,
    /// `github`, `naver`, or the operator's own OpenID Connect provider.
    pub id: String,
    /// Its name as its button shows it.
    pub name: String,
}

/// An account at another provider linked to this one: it signs in here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkedIdentity {
    /// The provider's id (see `UpstreamInfo`).
    pub provider: String,
    /// The address the provider gave when it was linked (for recognising
    /// it; it grants nothing).
    pub email: String,
    /// Unix seconds it was linked.
    pub created_at: i64,
    /// Unix seconds it last signed in; `None`: never.
    pub last_used_at: Option<i64>,
}

/// The access token a provider gave at the account's last sign-in through
/// it, kept when the deployment asks (`UPSTREAM_KEEP_TOKENS`): for the
/// product to call that provider's API for the person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpstreamToken {
    pub provider: String,
    /// As the provider issued it; it may have expired there since.
    pub access_token: String,
    /// Unix seconds it was received.
    pub kept_at: i64,
}

impl std::fmt::Debug for UpstreamToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamToken")
            .field("provider", &self.provider)
            .field("kept_at", &self.kept_at)
            .finish_non_exhaustive()
    }
}

/// An app that signs its users in through Latchkey (OpenID Connect), as
/// an administrator registers or changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppSpec {
    pub name: String,
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Where codes may be sent, matched exactly (https, or http on a
    /// loopback address).
    pub redirect_uris: Vec<String>,
    /// Where the app may send users after signing out through Latchkey.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// A confidential app (a server) has a secret; a public one (a single
    /// page or native app) has none and must use PKCE.
    pub confidential: bool,
    /// Of `openid profile email offline_access`.
    pub scopes: Vec<String>,
    /// Of `authorization_code refresh_token client_credentials`.
    pub grant_types: Vec<String>,
    /// Signs in without asking the user's consent.
    #[serde(default)]
    pub first_party: bool,
    /// `EdDSA` (the default) or `ES256`, for the app's ID tokens.
    #[serde(default)]
    pub id_token_alg: Option<String>,
    /// A confidential app that proves itself with signed assertions
    /// (`private_key_jwt`) instead of a secret: its public keys, as a JWK
    /// Set of Ed25519 or P-256 keys.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
}

/// A registered app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct App {
    pub client_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub confidential: bool,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub first_party: bool,
    pub id_token_alg: String,
    /// How it proves itself at the token endpoint: `client_secret`,
    /// `private_key_jwt` or `none` (a public app).
    pub auth_method: String,
    /// Its public keys, for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An app the user let sign them in, as they see it (Connected apps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    /// What it was allowed (the last consent, or what it holds).
    pub scopes: Vec<String>,
    /// Unix seconds of the first consent or sign-in.
    pub since: i64,
    /// Whether it holds access now (a live grant); without, it only has
    /// the remembered consent.
    pub active: bool,
}
