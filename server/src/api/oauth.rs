//! `POST /api/v1/auth/token`: the OAuth2 token endpoint (RFC 6749) for the
//! resource-owner password grant (§4.3) and refresh (§6), form-encoded, with
//! the RFC's response and error shapes, so stock OAuth2 clients work. It
//! calls the same services as `auth/login` and `auth/refresh`.

use app::error::{AppError, ErrorCode};
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use latchkey_core::Services;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TokenResponse;
use super::extract::Client;

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new().routes(routes!(token))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` or `refresh_token`.
    grant_type: String,
    /// Email or username.
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// RFC 6749 §5.2.
#[derive(Serialize, ToSchema)]
struct OAuthError {
    error: &'static str,
    error_description: String,
    #[serde(skip)]
    #[schema(ignore)]
    status: StatusCode,
    #[serde(skip)]
    #[schema(ignore)]
    retry_after: Option<u64>,
    /// `mfa_required`: finish with `auth/login/second-factor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<String>,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
            mfa_token: None,
        }
    }
}

impl From<latchkey_core::Error> for OAuthError {
    fn from(mut err: latchkey_core::Error) -> Self {
        // As Auth0 answers it: 403 `mfa_required` with the second step's token.
        if let Some(challenge) = err.challenge.take() {
            return Self {
                status: StatusCode::FORBIDDEN,
                mfa_token: Some(challenge.0),
                ..Self::new("mfa_required", AppError::from(err).message)
            };
        }
        AppError::from(err).into()
    }
}

impl From<AppError> for OAuthError {
    fn from(err: AppError) -> Self {
        let (error, status) = match err.code {
            ErrorCode::InvalidCredentials
            | ErrorCode::AccountDisabled
            | ErrorCode::Unauthorized => ("invalid_grant", StatusCode::BAD_REQUEST),
            ErrorCode::RateLimited | ErrorCode::Unavailable => (
                "temporarily_unavailable",
                StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            ),
            ErrorCode::Internal => ("server_error", StatusCode::INTERNAL_SERVER_ERROR),
            _ => ("invalid_request", StatusCode::BAD_REQUEST),
        };
        Self {
            error,
            error_description: err.message,
            status,
            retry_after: err.retry_after,
            mfa_token: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, retry_after) = (self.status, self.retry_after);
        let mut response = (status, no_store(), Json(self)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// OAuth2 token endpoint (RFC 6749): password and refresh_token grants.
///
/// Form-encoded, for standard OAuth2 clients. Errors follow §5.2.
#[utoipa::path(post, path = "/auth/token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1)", body = TokenResponse),
        (status = 429, description = "`temporarily_unavailable`: too many tries, with `Retry-After`", body = OAuthError),
        (status = 503, description = "`temporarily_unavailable`: a store is briefly unreachable", body = OAuthError),
        (status = 400, description = "`invalid_request`, `invalid_grant` or `unsupported_grant_type`", body = OAuthError),
        (status = 403, description = "`mfa_required`, with `mfa_token`: finish with `auth/login/second-factor`", body = OAuthError),
    ))]
async fn token(
    State(services): State<Services>,
    Client(client): Client,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(request) = form.map_err(|rejection| {
        OAuthError::new(
            "invalid_request",
            format!("Send grant_type and its parameters as application/x-www-form-urlencoded ({rejection})."),
        )
    })?;
    let missing = |name: &str| OAuthError::new("invalid_request", format!("{name} is required."));
    let tokens = match request.grant_type.as_str() {
        "password" => {
            let username = request.username.ok_or_else(|| missing("username"))?;
            let password = request.password.ok_or_else(|| missing("password"))?;
            let (user, issued) = services
                .accounts()
                .login(&username, password, &client)
                .await?;
            TokenResponse::new(issued, Some(user))
        }
        "refresh_token" => {
            let token = request
                .refresh_token
                .ok_or_else(|| missing("refresh_token"))?;
            let (issued, auth) = services.sessions().refresh(&token, &client).await?;
            TokenResponse::new(issued, Some(auth.user))
        }
        _ => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "Supported grant types: password, refresh_token.",
            ))
        }
    };
    Ok((no_store(), Json(tokens)).into_response())
}
