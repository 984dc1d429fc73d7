//! Carries what a refused form post kept (`app::ssr::kept`) to the page
//! that shows the refusal: the post's kept fields go into a sealed cookie
//! when its answer is the redirect back to the form with its error; that
//! page's request gets them as an extension (`Field` renders them) and its
//! answer clears the cookie. Only the pages and their server functions
//! pass through here.

use app::ssr::{cookies, kept::Kept};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_core::Services;

pub async fn carry(State(services): State<Services>, req: Request, next: Next) -> Response {
    match *req.method() {
        Method::POST if is_form(&req) => post(&services, req, next).await,
        Method::GET => page(&services, req, next).await,
        _ => next.run(req).await,
    }
}

fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

async fn post(services: &Services, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // The body limit in front bounds this read; past it (a chunked body,
    // else refused before) or cut off by the client, the answer is the
    // limit's own 413.
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let kept = Kept::from_form(parts.uri.path(), &body);
    let mut response = next.run(Request::from_parts(parts, Body::from(body))).await;
    // The answer of a refusal: back to the form, naming it and the error.
    let refused = response.status().is_redirection()
        && response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|to| kept.is_refused_by(to));
    if let Some(cookie) = refused.then(|| kept.carry(services)).flatten() {
        append_cookie(&mut response, cookie);
    }
    response
}

async fn page(services: &Services, mut req: Request, next: Next) -> Response {
    let Some(sealed) = cookies::read(req.headers(), &services.config, cookies::KEPT) else {
        return next.run(req).await;
    };
    if let Some(kept) = Kept::for_page(services, &sealed, req.uri().query()) {
        req.extensions_mut().insert(kept);
    }
    // Kept only until the next page shows, whichever it is.
    let mut response = next.run(req).await;
    append_cookie(&mut response, cookies::kept(&services.config, None));
    response
}

fn append_cookie(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
