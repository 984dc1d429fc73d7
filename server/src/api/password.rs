//! Passwords: forgotten (reset by emailed link), changed, and the strength
//! meter; deleting the account, which the password confirms.

use app::model::Strength;
use app::ssr::Services;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::TokenResponse;
use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/password/forgot", post(forgot))
        .route("/password/reset", post(reset))
        .route("/password/strength", post(strength))
        .route("/me/password", post(change))
        .route("/me/delete", post(delete))
}

#[derive(Deserialize)]
pub struct ForgotRequest {
    email: String,
}

/// 202 whether or not the address has an account; a link goes only to an
/// account's owner.
async fn forgot(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<ForgotRequest>,
) -> Result<StatusCode, ApiError> {
    services.forgot_password(&body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub struct ResetRequest {
    /// The `token` parameter of the emailed link.
    token: String,
    password: String,
}

/// Sets the new password, ends every session and starts a fresh one.
async fn reset(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .reset_password(&body.token, body.password, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

#[derive(Deserialize)]
pub struct StrengthRequest {
    password: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
}

async fn strength(
    State(services): State<Services>,
    ApiJson(body): ApiJson<StrengthRequest>,
) -> Json<Strength> {
    Json(services.password_strength(&body.password, &body.email, &body.username))
}

#[derive(Deserialize)]
pub struct ChangeRequest {
    current_password: String,
    new_password: String,
}

/// Ends every other session; the caller's stays.
async fn change(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<ChangeRequest>,
) -> Result<StatusCode, ApiError> {
    services
        .change_password(&auth, body.current_password, body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DeleteRequest {
    password: String,
}

async fn delete(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<DeleteRequest>,
) -> Result<StatusCode, ApiError> {
    services.delete_account(&auth, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
