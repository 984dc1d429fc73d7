//! Second factors over the API: the second step of a sign-in
//! (`auth/login/second-factor`), and setting up, removing and renewing an
//! authenticator app and its recovery codes (`me/second-factors…`).

use app::model::{AuthenticatorSetup, SecondFactors};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::Services;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TokenResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(complete_sign_in))
        .routes(routes!(status))
        .routes(routes!(start_authenticator))
        .routes(routes!(confirm_authenticator))
        .routes(routes!(remove_authenticator))
        .routes(routes!(renew_recovery_codes))
        .routes(routes!(step_up))
}

#[derive(Deserialize, ToSchema)]
pub struct SecondStep {
    /// From the `mfa_required` answer of `auth/login` (or `auth/code/verify`,
    /// `password/reset`).
    mfa_token: String,
    /// The 6-digit code the authenticator app shows now, or an unused
    /// recovery code (`xxxxx-xxxxx`).
    #[schema(example = "042917")]
    code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeOnly {
    /// A 6-digit code from the app (or, where a current second factor is
    /// asked for, an unused recovery code).
    #[schema(example = "042917")]
    code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct StartAuthenticator {
    /// The current password (an account without one: empty, within 10
    /// minutes of signing in).
    #[serde(default)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RemoveAuthenticator {
    /// The current password (an account without one: empty, within 10
    /// minutes of signing in).
    #[serde(default)]
    password: String,
    /// A current code from the app, or an unused recovery code.
    code: String,
}

/// Recovery codes, shown this once: each works once, in place of a code
/// from the app.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// Finish a sign-in that answered `mfa_required`.
///
/// Wrong codes count against the account: five, then each further try
/// waits (1 s, doubling). A code from the app works once.
#[utoipa::path(post, path = "/auth/login/second-factor", tag = "auth", request_body = SecondStep, responses(
    (status = 200, description = "Signed in", body = TokenResponse),
    (status = 401, description = "`unauthorized`: the `mfa_token` expired (5 minutes) or was used: sign in again", body = ErrorBody),
    (status = 403, description = "`account_disabled`", body = ErrorBody),
    (status = 422, description = "`code_wrong`, or `invalid_input` for an empty code", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many wrong codes, with `Retry-After`", body = ErrorBody),
))]
async fn complete_sign_in(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<SecondStep>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .second_factors()
        .complete_sign_in(&body.mfa_token, &body.code, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

/// The second factors of the signed-in account.
#[utoipa::path(get, path = "/me/second-factors", tag = "me", security(("bearer" = [])), responses(
    (status = 200, description = "What the account has", body = SecondFactors),
))]
async fn status(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<Json<SecondFactors>, ApiError> {
    Ok(Json(services.second_factors().status(&auth).await?))
}

/// Start setting up an authenticator app (needs the password).
///
/// Returns the secret as a QR code (SVG), an `otpauth://` URI and text;
/// nothing changes for sign-in until `…/authenticator/confirm` gets a code
/// from the app (within 15 minutes). Starting again replaces the secret.
#[utoipa::path(post, path = "/me/second-factors/authenticator", tag = "me", security(("bearer" = [])), request_body = StartAuthenticator, responses(
    (status = 201, description = "A new secret to add to the app", body = AuthenticatorSetup),
    (status = 401, description = "`invalid_credentials`: wrong password", body = ErrorBody),
    (status = 403, description = "`reauth_required`: an account without a password must have signed in within 10 minutes", body = ErrorBody),
    (status = 409, description = "`conflict`: an app is already set up", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many password checks", body = ErrorBody),
))]
async fn start_authenticator(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<StartAuthenticator>,
) -> Result<(StatusCode, Json<AuthenticatorSetup>), ApiError> {
    let setup = services
        .second_factors()
        .start_authenticator(&auth, body.password)
        .await?;
    Ok((StatusCode::CREATED, Json(setup)))
}

/// Confirm the app with a code it shows: sign-in asks for one from now on.
///
/// Answers the account's ten recovery codes, this once. Sessions already
/// signed in stay signed in.
#[utoipa::path(post, path = "/me/second-factors/authenticator/confirm", tag = "me", security(("bearer" = [])), request_body = CodeOnly, responses(
    (status = 200, description = "Confirmed; keep these codes", body = RecoveryCodes),
    (status = 409, description = "`conflict`: nothing to confirm (never started, expired, or already on)", body = ErrorBody),
    (status = 422, description = "`code_wrong` or `invalid_input`", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many wrong codes", body = ErrorBody),
))]
async fn confirm_authenticator(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeOnly>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = services
        .second_factors()
        .confirm_authenticator(&auth, &body.code, &client)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Remove the authenticator app and the recovery codes.
///
/// Needs the password and a current code (or a recovery code), so a stolen
/// session alone cannot turn the second factor off.
#[utoipa::path(post, path = "/me/second-factors/authenticator/remove", tag = "me", security(("bearer" = [])), request_body = RemoveAuthenticator, responses(
    (status = 204, description = "Removed; the owner is mailed"),
    (status = 401, description = "`invalid_credentials`: wrong password", body = ErrorBody),
    (status = 403, description = "`reauth_required`: an account without a password must have signed in within 10 minutes", body = ErrorBody),
    (status = 409, description = "`conflict`: no app is set up", body = ErrorBody),
    (status = 422, description = "`code_wrong`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn remove_authenticator(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<RemoveAuthenticator>,
) -> Result<StatusCode, ApiError> {
    services
        .second_factors()
        .remove_authenticator(&auth, body.password, &body.code, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes with ten new ones (the old ones stop working).
#[utoipa::path(post, path = "/me/second-factors/recovery-codes", tag = "me", security(("bearer" = [])), request_body = CodeOnly, responses(
    (status = 200, description = "The new codes, this once", body = RecoveryCodes),
    (status = 409, description = "`conflict`: no app is set up", body = ErrorBody),
    (status = 422, description = "`code_wrong`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn renew_recovery_codes(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeOnly>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = services
        .second_factors()
        .renew_recovery_codes(&auth, &body.code, &client)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Prove the second factor again for this session (step-up).
///
/// With an authenticator app, changing the password or email, deleting the
/// account and every admin action answer 403 `reauth_required` (reason
/// `step_up_required`) unless the session proved it in the last 10
/// minutes: its sign-in, or this call.
#[utoipa::path(post, path = "/me/second-factors/step-up", tag = "me", security(("bearer" = [])), request_body = CodeOnly, responses(
    (status = 204, description = "This session may make such changes for 10 minutes"),
    (status = 409, description = "`conflict`: no app is set up", body = ErrorBody),
    (status = 422, description = "`code_wrong`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn step_up(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeOnly>,
) -> Result<StatusCode, ApiError> {
    services
        .second_factors()
        .step_up(&auth, &body.code, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
