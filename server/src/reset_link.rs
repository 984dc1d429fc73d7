//! The emailed reset link, `/reset?token=…`, is answered here before the
//! pages: the token moves into an HttpOnly cookie and the browser is sent
//! to plain `/reset`. The token then never sits in the address bar, the
//! history or a Referer, and this response itself sends no Referer onward.

use app::ssr::{cookies, Services};
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
    let mut response = (StatusCode::FOUND, [(header::LOCATION, "/reset")]).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(cookie) = cookies::reset_token(&services.config, Some(&token)).parse() {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}
