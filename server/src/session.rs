//! Authenticates every request: a Bearer token or the access cookie; when the
//! cookie has expired, the refresh cookie is rotated transparently and the new
//! cookies ride on the response.

use app::error::{AppError, ErrorCode};
use app::ssr::cookies;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use latchkey_core::{Auth, ClientInfo, Services};

use crate::api::error::ApiError;
use crate::client_addr::ClientAddr;

pub async fn authenticate(
    State(services): State<Services>,
    mut req: Request,
    next: Next,
) -> Response {
    // Static assets need no session.
    if req.uri().path().starts_with("/pkg/") {
        return next.run(req).await;
    }
    let client = client_info(&req, &services.config);
    req.extensions_mut().insert(client.clone());

    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let access = bearer
        .clone()
        .or_else(|| cookies::read(req.headers(), &services.config, cookies::ACCESS));

    let mut auth: Option<Auth> = match &access {
        // The database is down: say so, rather than answer as if signed out.
        Some(token) => match services.sessions().authenticate(token, &client).await {
            Ok(auth) => auth,
            Err(err) => return unavailable(&req, err.into(), &services.config.product),
        },
        None => None,
    };
    let mut set_cookies: Vec<String> = Vec::new();
    // Only browsers (cookies) refresh here; API clients call auth/refresh.
    if auth.is_none() && bearer.is_none() {
        if let Some(refresh) = cookies::read(req.headers(), &services.config, cookies::REFRESH) {
            match services.sessions().refresh(&refresh, &client).await {
                Ok((issued, fresh)) => {
                    set_cookies.extend(cookies::for_session(&services.config, &issued));
                    auth = Some(fresh);
                }
                Err(err) if err.code == ErrorCode::Unauthorized => {
                    set_cookies.extend(cookies::cleared(&services.config));
                }
                // The store is down: keep the cookies and try again later.
                Err(err) => {
                    tracing::warn!(code = ?err.code, cause = ?err.cause, "session refresh failed");
                }
            }
        } else if access.is_some() {
            set_cookies.extend(cookies::cleared(&services.config));
        }
    }
    let signed_in = auth.is_some();
    if let Some(auth) = auth {
        req.extensions_mut().insert(auth);
    }
    // The JSON API's answers are a user's own or carry tokens.
    let api = req.uri().path().starts_with("/api/");

    let mut response = next.run(req).await;
    let handler_sets = |kind: fn(&latchkey_core::AuthConfig, &str) -> bool| {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| kind(&services.config, c))
    };
    // A handler that set its own session cookies (log in, log out) wins;
    // other cookies (the language) do not count.
    let handler_set_session = handler_sets(cookies::is_session);
    // A signed-in page, a token, a session cookie or another secret one (a
    // pending sign-in, fresh recovery codes) must never be kept by a shared
    // cache (or the browser's back button after sign-out).
    let secret = handler_set_session || handler_sets(cookies::is_secret);
    if signed_in || api || secret || !set_cookies.is_empty() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !handler_set_session {
        for value in set_cookies {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

/// A 503 in the form the client reads: a short page for browsers, the API's
/// JSON error otherwise.
fn unavailable(req: &Request, err: AppError, product: &str) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !wants_html {
        return ApiError::from(err).into_response();
    }
    let page = crate::outage::page(crate::locale::negotiate(req.headers()), product);
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn client_info(req: &Request, config: &latchkey_core::AuthConfig) -> ClientInfo {
    ClientInfo {
        ip: req
            .extensions()
            .get::<ClientAddr>()
            .map(|ClientAddr(ip)| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        locale: app::locale::tag(crate::locale::negotiate(req.headers())),
        device: cookies::read(req.headers(), config, cookies::DEVICE),
    }
}
