//! The emailed reset link, `/reset?token=…`, is answered here before the
//! pages: the token moves into an HttpOnly cookie and the browser is sent
//! to plain `/reset`. The token then never sits in the address bar, the
//! history or a Referer, and this response itself sends no Referer onward.
//!
//! A browser signed in to another account gets no token: a link mailed by
//! an attacker for their own account would otherwise have the victim set
//! its password and end up signed in to it (a log-in CSRF). The page says
//! to sign out first.

use app::ssr::{cookies, Auth, Services};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn land(State(services): State<Services>, req: Request, next: Next) -> Response {
    let token = (req.method() == Method::GET && req.uri().path() == "/reset")
        .then(|| req.uri().query())
        .flatten()
        .and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .map(str::to_owned)
        });
    let Some(token) = token else {
        return next.run(req).await;
    };
    // Only the URL-safe alphabet can be a token; anything else is left for
    // the page to call invalid, and must not reach a header.
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let signed_in_elsewhere = match req.extensions().get::<Auth>() {
        Some(auth) => services
            .check_reset_link(&token)
            .await
            .is_ok_and(|email| email != auth.user.email),
        None => false,
    };
    let to = if signed_in_elsewhere {
        "/reset?other_account=1"
    } else {
        "/reset"
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
    if let Ok(cookie) = cookies::reset_token(&services.config, Some(&token)).parse() {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}
