//! CSRF defence for cookie-authenticated requests: a state-changing request
//! from a browser must come from our own origin. Server functions have no
//! built-in protection, so this guards them and the API alike.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use app::error::{AppError, ErrorCode, Reason};

/// The origins a state-changing request may come from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Ours (from `PUBLIC_URL`): pages, forms and server functions.
    pub public: String,
    /// `CORS_ALLOWED_ORIGINS`: trusted for Bearer calls to the JSON API
    /// only. Their pages are other apps; they must not ride the session
    /// cookies of a browser that is signed in here (same-site cookies are
    /// sent from a sibling subdomain).
    pub cors: Vec<String>,
}

pub async fn check(State(origins): State<Arc<Origins>>, mut req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    match verdict(req.uri().path(), req.headers(), &origins) {
        Verdict::Allowed => next.run(req).await,
        Verdict::WithoutCookies => {
            req.headers_mut().remove(header::COOKIE);
            next.run(req).await
        }
        Verdict::Refused => {
            let mut response =
                ApiError::from(AppError::of(ErrorCode::Forbidden, Reason::CrossSite))
                    .into_response();
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allowed,
    /// A CORS origin calling the API: allowed, as if it had no cookies.
    WithoutCookies,
    Refused,
}

/// The endpoints other apps call with their own credentials (client
/// secret, PKCE verifier, bearer token), from any origin: cookies never
/// count there.
pub fn for_apps(path: &str) -> bool {
    matches!(
        path,
        "/oauth/token" | "/oauth/userinfo" | "/oauth/revoke" | "/oauth/introspect"
    )
}

fn verdict(path: &str, headers: &HeaderMap, origins: &Origins) -> Verdict {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if for_apps(path) {
        return Verdict::WithoutCookies;
    }
    match header("origin") {
        // Same origin as configured, or as the Host the browser talked to.
        Some(origin)
            if origin == origins.public
                || header("host").is_some_and(|host| {
                    origin == format!("http://{host}") || origin == format!("https://{host}")
                }) =>
        {
            Verdict::Allowed
        }
        Some(origin)
            if path.starts_with("/api/v1/") && origins.cors.iter().any(|o| o == origin) =>
        {
            Verdict::WithoutCookies
        }
        Some(_) => Verdict::Refused,
        // No Origin: not a modern browser's cross-site POST, unless Fetch
        // Metadata says it is.
        None if matches!(header("sec-fetch-site"), Some("cross-site" | "same-site")) => {
            Verdict::Refused
        }
        None => Verdict::Allowed,
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
        let origins = Origins {
            public: "https://auth.example.com".to_owned(),
            cors: vec!["https://app.example.com".to_owned()],
        };
        let v =
            |path: &str, pairs: &[(&'static str, &str)]| verdict(path, &headers(pairs), &origins);
        assert_eq!(
            v(
                "/api/v1/auth/login",
                &[("origin", "https://auth.example.com")]
            ),
            Verdict::Allowed
        );
        assert_eq!(
            v("/api/v1/me", &[("origin", "https://app.example.com")]),
            Verdict::WithoutCookies,
            "a CORS origin calls the API without the session cookies"
        );
        assert_eq!(
            v("/fn/logout", &[("origin", "https://app.example.com")]),
            Verdict::Refused,
            "a CORS origin may not call our server functions"
        );
        assert_eq!(
            v("/login", &[("origin", "https://app.example.com")]),
            Verdict::Refused,
            "a CORS origin may not post our forms"
        );
        assert_eq!(
            v(
                "/api/v1/auth/login",
                &[
                    ("origin", "http://localhost:3000"),
                    ("host", "localhost:3000")
                ]
            ),
            Verdict::Allowed
        );
        assert_eq!(
            v(
                "/api/v1/auth/login",
                &[
                    ("origin", "https://evil.example"),
                    ("host", "auth.example.com")
                ]
            ),
            Verdict::Refused
        );
        assert_eq!(
            v("/api/v1/auth/login", &[("sec-fetch-site", "cross-site")]),
            Verdict::Refused
        );
        assert_eq!(
            v("/api/v1/auth/login", &[]),
            Verdict::Allowed,
            "non-browser clients"
        );
    }
}
