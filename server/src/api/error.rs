//! The API's error response: `{ "error": { "code", "message", "field"? } }`
//! with the status the code implies.

use app::error::{AppError, ErrorCode};
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::error::Challenge;

/// What `auth/login/second-factor` accepts after `mfa_required`.
pub const FACTORS: [&str; 2] = ["totp", "recovery_code"];

#[derive(Debug)]
pub struct ApiError(pub AppError, Option<Box<Challenge>>);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err, None)
    }
}

impl From<latchkey_core::Error> for ApiError {
    fn from(mut err: latchkey_core::Error) -> Self {
        let challenge = err.challenge.take();
        Self(err.into(), challenge)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl ApiError {
    /// A malformed request, refused before the handler.
    pub fn bad_request(message: &str) -> Self {
        Self::rejected(StatusCode::BAD_REQUEST, message.to_owned())
    }

    /// An extractor refused the request body.
    fn rejected(status: StatusCode, message: String) -> Self {
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::BadRequest
        };
        Self(AppError::new(code, message), None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = serde_json::json!(self.0);
        if let Some(Challenge(token)) = self.1.map(|c| *c) {
            // The second step's ticket (`auth/login/second-factor`), and the
            // factors it accepts.
            error["mfa_token"] = token.into();
            error["factors"] = serde_json::json!(FACTORS);
        }
        let mut response = (status, Json(serde_json::json!({ "error": error }))).into_response();
        if let Some(secs) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="latchkey""#),
            );
        }
        response
    }
}

/// `mfa_required`: the first factor was right, a second must follow.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the JSON built in `into_response`.
pub struct SecondFactorBody {
    error: SecondFactorDue,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SecondFactorDue {
    /// `mfa_required`, or another refusal (`account_disabled`) without the
    /// two fields below.
    code: ErrorCode,
    message: String,
    /// With `mfa_required`: send it to `auth/login/second-factor` with a
    /// code, within 5 minutes.
    mfa_token: Option<String>,
    /// With `mfa_required`: `totp` (a code from the authenticator app) and
    /// `recovery_code`.
    factors: Option<Vec<String>>,
}

/// The error envelope every failed API call returns.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the JSON built in `into_response`.
pub struct ErrorBody {
    error: AppError,
}
