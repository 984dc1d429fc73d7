//! The emailed links, `/reset?token=…` and `/email/revert?token=…`, are
//! answered here before the pages: the token moves into an HttpOnly cookie
//! and the browser is sent to the plain path. The token then never sits in
//! the address bar, the history, a proxy's access log of later requests or
//! a Referer, and this response itself sends no Referer onward.
//!
//! A browser signed in to another account gets no token: a link mailed by
//! an attacker for their own account would otherwise have the victim set
//! its password and end up signed in to it (a log-in CSRF). The page says
//! to sign out first.

use app::ssr::cookies;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_core::{Auth, Services};

pub async fn move_token_to_cookie(
    State(services): State<Services>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let link = match path {
        "/reset" => Some((cookies::RESET, services.config.reset_ttl)),
        // Long enough to read the page and press the button; on a shared
        // browser the next person finds nothing to press.
        "/email/revert" => Some((cookies::REVERT, std::time::Duration::from_secs(30 * 60))),
        _ => None,
    };
    let token = link
        .filter(|_| req.method() == Method::GET)
        .and(req.uri().query())
        .and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .map(str::to_owned)
        });
    let (Some(token), Some((cookie, ttl))) = (token, link) else {
        return next.run(req).await;
    };
    let path = path.to_owned();
    // Only the URL-safe alphabet can be a token; anything else is left for
    // the page to call invalid, and must not reach a header.
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let signed_in_elsewhere = match (cookie, req.extensions().get::<Auth>()) {
        (cookies::RESET, Some(auth)) => services
            .passwords()
            .check_reset_link(&token)
            .await
            .is_ok_and(|email| email != auth.user.email),
        _ => false,
    };
    let to = if signed_in_elsewhere {
        "/reset?other_account=1".to_owned()
    } else {
        path
    };
    let mut response = (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if signed_in_elsewhere {
        return response;
    }
    if let Ok(value) = cookies::link_token(&services.config, cookie, Some(&token), ttl).parse() {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}
