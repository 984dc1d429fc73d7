//! Leptos answers every server-function error with 500. Ours carry an
//! `AppError` whose code says what really happened, so the response gets the
//! status that code implies (a wrong password is a 401, not a server fault).
//! Plain form posts are untouched: they are 302s back to the form.

use app::error::AppError;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Error bodies are small; anything larger is left as it is.
const MAX_ERROR_BODY: usize = 16 * 1024;

pub async fn status_from_error(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(err.code.status()).unwrap_or(parts.status);
        if let Some(secs) = err.retry_after {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
