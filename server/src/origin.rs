//! CSRF defence for cookie-authenticated requests: a state-changing request
//! from a browser must come from our own origin. Server functions have no
//! built-in protection, so this guards them and the API alike.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use app::error::{AppError, ErrorCode, Reason};

/// `trusted`: the public origin, then any CORS origins.
pub async fn check(State(trusted): State<Arc<[String]>>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || allowed(req.headers(), &trusted)
    {
        return next.run(req).await;
    }
    let mut response =
        ApiError(AppError::of(ErrorCode::Forbidden, Reason::CrossSite)).into_response();
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

fn allowed(headers: &HeaderMap, trusted: &[String]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("origin") {
        // Same origin as configured, or as the Host the browser talked to.
        Some(origin) => {
            trusted.iter().any(|t| t == origin)
                || header("host").is_some_and(|host| {
                    origin == format!("http://{host}") || origin == format!("https://{host}")
                })
        }
        // No Origin: not a modern browser's cross-site POST, unless Fetch
        // Metadata says it is.
        None => !matches!(header("sec-fetch-site"), Some("cross-site" | "same-site")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_passes_and_cross_site_is_refused() {
        let public = &[
            "https://auth.example.com".to_owned(),
            "https://app.example.com".to_owned(),
        ][..];
        assert!(allowed(
            &headers(&[("origin", "https://auth.example.com")]),
            public
        ));
        assert!(
            allowed(&headers(&[("origin", "https://app.example.com")]), public),
            "a CORS origin"
        );
        assert!(allowed(
            &headers(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ]),
            public
        ));
        assert!(!allowed(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "auth.example.com")
            ]),
            public
        ));
        assert!(!allowed(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
        assert!(allowed(&headers(&[]), public), "non-browser clients");
    }
}
