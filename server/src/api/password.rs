//! Passwords: forgotten (reset by emailed link), changed, and the strength
//! meter; deleting the account, which the password confirms.

use app::model::Strength;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use latchkey_core::{Auth, Services};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TokenResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(forgot))
        .routes(routes!(reset))
        .routes(routes!(strength))
        .routes(routes!(change))
        .routes(routes!(delete))
}

#[derive(Deserialize, ToSchema)]
pub struct ForgotRequest {
    email: String,
}

/// Mail a password-reset link.
///
/// 202 whether or not the address has an account, in the same time; a link
/// (single use, 1 hour) goes only to an account's owner.
#[utoipa::path(post, path = "/password/forgot", tag = "password", request_body = ForgotRequest, responses(
    (status = 202, description = "A link is on its way if the account exists"),
    (status = 422, description = "`invalid_input`", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn forgot(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<ForgotRequest>,
) -> Result<StatusCode, ApiError> {
    services
        .passwords()
        .forgot_password(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The `token` parameter of the emailed link.
    token: String,
    password: String,
    /// For an account with an authenticator app: a code from it, or a
    /// recovery code (without it: 403 `mfa_required`, nothing changed).
    #[serde(default)]
    code: Option<String>,
}

/// Set a new password with the token from the emailed link.
///
/// Ends every session and every other link, and starts a fresh session.
#[utoipa::path(post, path = "/password/reset", tag = "password", request_body = ResetRequest, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 200, description = "Password set, signed in", body = TokenResponse),
    (status = 400, description = "`link_invalid`", body = ErrorBody),
    (status = 410, description = "`link_expired`: expired or already used", body = ErrorBody),
    (status = 422, description = "`invalid_input` or `weak_password`", body = ErrorBody),
    (status = 403, description = "`account_disabled`, or `mfa_required` with `field: code`: the account \
        has an authenticator app; send its `code` too (nothing changed)", body = ErrorBody),
))]
async fn reset(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .passwords()
        .reset_password_with(&body.token, body.password, body.code.as_deref(), &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

#[derive(Deserialize, ToSchema)]
pub struct StrengthRequest {
    password: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
}

/// Rate a candidate password: the policy's verdict and zxcvbn's 0–4 score.
///
/// With a bearer token and `email` and `username` left empty, the password
/// is measured against the caller's own (as a password change would be).
#[utoipa::path(post, path = "/password/strength", tag = "password", security((), ("bearer" = [])), request_body = StrengthRequest, responses(
    (status = 200, description = "The reading", body = Strength),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
    (status = 503, description = "`unavailable`", body = ErrorBody),
))]
async fn strength(
    State(services): State<Services>,
    Client(client): Client,
    auth: Option<Extension<Auth>>,
    ApiJson(body): ApiJson<StrengthRequest>,
) -> Result<Json<Strength>, ApiError> {
    let auth = auth.map(|Extension(auth)| auth);
    let reading = services
        .passwords()
        .password_strength(
            body.password,
            &body.email,
            &body.username,
            auth.as_ref(),
            &client,
        )
        .await?;
    Ok(Json(reading.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangeRequest {
    current_password: String,
    new_password: String,
}

/// Change the password (the current one is required).
///
/// Ends every other session; the caller's stays.
#[utoipa::path(post, path = "/me/password", tag = "password", security(("bearer" = [])), request_body = ChangeRequest, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 204, description = "Changed"),
    (status = 401, description = "`invalid_credentials`: wrong current password", body = ErrorBody),
    (status = 403, description = "`reauth_required` with reason `step_up_required`: the account has an authenticator app and this session has not proved it in 10 minutes (`me/second-factors/step-up`)", body = ErrorBody),
    (status = 422, description = "`invalid_input` or `weak_password`", body = ErrorBody),
))]
async fn change(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<ChangeRequest>,
) -> Result<StatusCode, ApiError> {
    services
        .passwords()
        .change_password(&auth, body.current_password, body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteRequest {
    /// The current password (an account without one: empty, within 10
    /// minutes of signing in).
    #[serde(default)]
    password: String,
}

/// Delete the account (the password is required; an account without one
/// must have signed in within 10 minutes).
#[utoipa::path(post, path = "/me/delete", tag = "me", security(("bearer" = [])), request_body = DeleteRequest, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 204, description = "The account, its sessions and links are gone"),
    (status = 401, description = "`invalid_credentials`: wrong password", body = ErrorBody),
    (status = 403, description = "`reauth_required`: with reason `step_up_required`, the account has an authenticator app and this session has not proved it in 10 minutes (`me/second-factors/step-up`); without, the account has no password and this session is older than 10 minutes", body = ErrorBody),
))]
async fn delete(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<DeleteRequest>,
) -> Result<StatusCode, ApiError> {
    services
        .passwords()
        .delete_account(&auth, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
