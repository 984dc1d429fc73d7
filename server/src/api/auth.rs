//! `/api/v1/auth/*`: sign up, log in, refresh, log out, token info.

use app::model::User;
use app::ssr::sessions::Issued;
use app::ssr::Services;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/token-info", get(token_info))
        .route("/auth/code", post(request_code))
        .route("/auth/code/verify", post(signin_with_code))
}

#[derive(Deserialize)]
pub struct SignupRequest {
    email: String,
    username: String,
    password: String,
}

#[derive(Deserialize)]
pub struct LoginRequest {
    /// Email or username.
    login: String,
    password: String,
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// OAuth2-style token response (RFC 6749 §5.1) plus the user.
#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
}

impl TokenResponse {
    pub(super) fn new(issued: Issued, user: Option<User>) -> Self {
        Self {
            expires_in: issued.access_expires_at - app::ssr::now(),
            access_token: issued.access_token,
            token_type: "Bearer",
            refresh_token: issued.refresh_token,
            user,
        }
    }
}

async fn signup(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let (user, issued) = services
        .signup(&body.email, &body.username, body.password, &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse::new(issued, Some(user))),
    ))
}

async fn login(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services.login(&body.login, body.password, &client).await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

async fn refresh(
    State(services): State<Services>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (issued, auth) = services.refresh(&body.refresh_token).await?;
    Ok(Json(TokenResponse::new(issued, Some(auth.user))))
}

async fn logout(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<StatusCode, ApiError> {
    services.revoke_session(&auth.session_id, "logout").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct TokenInfo {
    user_id: String,
    session_id: String,
    expires_at: i64,
    expires_in: i64,
    /// When the session itself ends (the refresh token's expiry).
    session_expires_at: i64,
}

async fn token_info(AuthUser(auth): AuthUser) -> Json<TokenInfo> {
    Json(TokenInfo {
        expires_in: auth.access_expires_at - app::ssr::now(),
        user_id: auth.user.id,
        session_id: auth.session_id,
        expires_at: auth.access_expires_at,
        session_expires_at: auth.session_expires_at,
    })
}

#[derive(Deserialize)]
pub struct CodeRequest {
    email: String,
}

/// Mails a sign-in code if the address has an account; answers 202 either way.
async fn request_code(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    services.request_signin_code(&body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub struct CodeSignin {
    email: String,
    /// The 6-digit code, as a string (leading zeros matter).
    code: String,
}

async fn signin_with_code(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeSignin>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .signin_with_code(&body.email, &body.code, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}
