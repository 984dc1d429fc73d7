//! `/api/v1/me`: the signed-in user.

use app::model::{SessionInfo, User};
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/me", get(me).patch(update_me))
        .route("/me/email/code", post(send_email_code))
        .route("/me/email/verify", post(verify_email))
        .route("/me/email/change", post(request_email_change))
        .route("/me/email/change/confirm", post(confirm_email_change))
        .route("/me/sessions", get(sessions).delete(end_other_sessions))
        .route("/me/sessions/{id}", delete(end_session))
}

async fn me(AuthUser(auth): AuthUser) -> Json<User> {
    Json(auth.user)
}

#[derive(Deserialize)]
pub struct UpdateMe {
    username: String,
}

async fn update_me(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<UpdateMe>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(services.update_username(&auth, &body.username).await?))
}

/// Mails a verification code to the signed-in user's address.
async fn send_email_code(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
) -> Result<StatusCode, ApiError> {
    services.send_verification(&auth, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub struct VerifyEmail {
    /// The 6-digit code, as a string (leading zeros matter).
    code: String,
}

async fn verify_email(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<VerifyEmail>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        services.verify_email(&auth, &body.code, &client).await?,
    ))
}

#[derive(Deserialize)]
pub struct EmailChange {
    new_email: String,
}

/// Mails a code to the new address; nothing changes yet.
async fn request_email_change(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailChange>,
) -> Result<StatusCode, ApiError> {
    services
        .request_email_change(&auth, &body.new_email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub struct EmailChangeConfirm {
    new_email: String,
    code: String,
}

async fn confirm_email_change(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailChangeConfirm>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        services
            .confirm_email_change(&auth, &body.new_email, &body.code, &client)
            .await?,
    ))
}

/// The caller's live sessions, most recently used first.
async fn sessions(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(services.list_sessions(&auth).await?))
}

/// Ends every session but the caller's ("log out everywhere else").
async fn end_other_sessions(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<StatusCode, ApiError> {
    services.end_other_sessions(&auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end_session(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.end_session(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
