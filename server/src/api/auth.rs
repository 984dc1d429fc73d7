//! `/api/v1/auth/*`: sign up, log in, refresh, log out, token info and
//! passwordless sign-in by code.

use app::model::User;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::quiet_signup::SignUp;
use latchkey_core::sessions::Issued;
use latchkey_core::Services;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody, SecondFactorBody};
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(finish_signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(token_info))
        .routes(routes!(request_code))
        .routes(routes!(signin_with_code))
}

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    /// 3–32 characters of `[a-z0-9_.-]`.
    #[schema(example = "ada")]
    username: String,
    /// 8–128 characters, not a common password, not containing the email
    /// or username. Omitted: an account without a password, which adds a
    /// passkey next (`me/passkeys/options`, within 10 minutes) or signs in
    /// by emailed code, and may set a password later.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Email or username.
    login: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// OAuth2-style token response (RFC 6749 §5.1) plus the user.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT; send it as `Authorization: Bearer …`.
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// Opaque; single use: each refresh returns a new one.
    refresh_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
}

impl TokenResponse {
    pub(super) fn new(issued: Issued, user: Option<User>) -> Self {
        Self {
            expires_in: issued.access_expires_at - latchkey_core::now(),
            access_token: issued.access_token,
            token_type: "Bearer",
            refresh_token: issued.refresh_token,
            user,
        }
    }
}

/// Create an account and sign in.
///
/// Mails a 6-digit code to confirm the address (`me/email/verify`). With
/// `SIGNUP_HIDE_EXISTING=true` a taken address answers exactly like a free
/// one: 202 with a `signup_token` and no session; the code mailed to a free
/// address finishes it (`auth/signup/verify`), and the owner of a taken one
/// is mailed "you already have an account" instead (409 `email_taken` is
/// then never answered).
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupRequest, responses(
    (status = 201, description = "Account created, signed in", body = TokenResponse),
    (status = 202, description = "`SIGNUP_HIDE_EXISTING`: finish with the mailed code", body = PendingSignup),
    (status = 409, description = "`email_taken` or `username_taken`; `passkeys_off` when `password` is left out on a deployment without passkeys", body = ErrorBody),
    (status = 422, description = "`invalid_input` or `weak_password`, with `field`", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn signup(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<Response, ApiError> {
    let accounts = services.accounts();
    let answer = match body.password {
        Some(password) => {
            accounts
                .sign_up(&body.email, &body.username, password, &client)
                .await?
        }
        None => {
            accounts
                .sign_up_without_password(&body.email, &body.username, &client)
                .await?
        }
    };
    Ok(match answer {
        SignUp::Started(user, issued) => (
            StatusCode::CREATED,
            Json(TokenResponse::new(issued, Some(user))),
        )
            .into_response(),
        SignUp::Pending(pending) => (
            StatusCode::ACCEPTED,
            Json(PendingSignup {
                email: pending.email,
                signup_token: pending.token,
            }),
        )
            .into_response(),
    })
}

/// A sign-up waiting for its code (`SIGNUP_HIDE_EXISTING`).
#[derive(Serialize, ToSchema)]
pub struct PendingSignup {
    /// The address as stored.
    email: String,
    /// Send it back with the code to `auth/signup/verify`.
    signup_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SignupFinish {
    email: String,
    /// The 6-digit code, as a string (leading zeros matter).
    #[schema(example = "042917")]
    code: String,
    /// From the sign-up's answer.
    signup_token: String,
}

/// Finish a sign-up with the mailed code (`SIGNUP_HIDE_EXISTING`).
///
/// Verifies the address and signs in.
#[utoipa::path(post, path = "/auth/signup/verify", tag = "auth", request_body = SignupFinish, responses(
    (status = 200, description = "Signed in", body = TokenResponse),
    (status = 403, description = "`account_disabled`", body = ErrorBody),
    (status = 410, description = "`code_expired`", body = ErrorBody),
    (status = 422, description = "`code_wrong` or `code_dead`", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
))]
async fn finish_signup(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignupFinish>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .accounts()
        .finish_signup(&body.email, &body.code, &body.signup_token, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

/// Log in by email or username.
///
/// Unknown account and wrong password get the same answer.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 200, description = "Signed in", body = TokenResponse),
    (status = 401, description = "`invalid_credentials`", body = ErrorBody),
    (status = 403, description = "`account_disabled` (only after a correct password), or `mfa_required`: \
        the account has an authenticator app; finish with `auth/login/second-factor`", body = SecondFactorBody),
))]
async fn login(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .accounts()
        .login(&body.login, body.password, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

/// Trade a refresh token for a new pair.
///
/// Each refresh token works once; repeating one within the refresh grace
/// (a few seconds: two tabs racing) returns the same successor, later it
/// ends the session.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, description = "New tokens", body = TokenResponse),
    (status = 401, description = "`unauthorized`: the session has ended", body = ErrorBody),
))]
async fn refresh(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (issued, auth) = services
        .sessions()
        .refresh(&body.refresh_token, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(auth.user))))
}

/// End this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Session ended; its tokens no longer work"),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
))]
async fn logout(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<StatusCode, ApiError> {
    services.sessions().logout(&auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TokenInfo {
    user_id: String,
    session_id: String,
    /// Unix seconds at which the access token expires.
    expires_at: i64,
    expires_in: i64,
    /// When the session itself ends (the refresh token's expiry).
    session_expires_at: i64,
}

/// The current access token's expiry and session.
#[utoipa::path(get, path = "/auth/token-info", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, description = "About this token", body = TokenInfo),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
))]
async fn token_info(AuthUser(auth): AuthUser) -> Json<TokenInfo> {
    Json(TokenInfo {
        expires_in: auth.access_expires_at - latchkey_core::now(),
        user_id: auth.user.id,
        session_id: auth.session_id,
        expires_at: auth.access_expires_at,
        session_expires_at: auth.session_expires_at,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    email: String,
}

/// Mail a sign-in code.
///
/// Answers 202 whether or not the address has an account; only an
/// account's owner gets a mail.
#[utoipa::path(post, path = "/auth/code", tag = "auth", request_body = CodeRequest, responses(
    (status = 202, description = "A code is on its way if the account exists"),
    (status = 422, description = "`invalid_input`", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn request_code(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    services
        .accounts()
        .request_signin_code(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
pub struct CodeSignin {
    email: String,
    /// The 6-digit code, as a string (leading zeros matter).
    #[schema(example = "042917")]
    code: String,
}

/// Sign in with a mailed code.
#[utoipa::path(post, path = "/auth/code/verify", tag = "auth", request_body = CodeSignin, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 200, description = "Signed in", body = TokenResponse),
    (status = 410, description = "`code_expired`", body = ErrorBody),
    (status = 422, description = "`code_wrong` or `code_dead`", body = ErrorBody),
    (status = 403, description = "`account_disabled`, or `mfa_required`: finish with `auth/login/second-factor`", body = SecondFactorBody),
))]
async fn signin_with_code(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeSignin>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .accounts()
        .signin_with_code(&body.email, &body.code, &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}
