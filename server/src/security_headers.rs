//! Headers every response carries unless a handler set its own: pages set
//! a CSP with their hydration nonce (`page_csp`, below), and the reset
//! link sets `no-referrer`; everything else gets the strict defaults here.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// JSON, files and errors render nothing that needs scripts.
const DEFAULT_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn apply(router: Router, https: bool) -> Router {
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, DEFAULT_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    if https {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ));
    }
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// The Content-Security-Policy of rendered pages, set while one renders.
/// Leptos' inline hydration scripts carry a per-response nonce (leptos_axum's
/// `nonce` feature); the policy allows exactly those, our own files, and
/// compiling the WASM.
pub fn page_csp() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // The consent page's answer redirects to the app, and browsers hold a
    // form's redirects to `form-action` too; it also shows the app's logo.
    // Apps' redirect URIs are https or http on a loopback address.
    let consent = leptos::prelude::use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.uri.path() == "/oauth/consent");
    let (forms, images) = match consent {
        true => (
            "'self' https: http://localhost:* http://127.0.0.1:*",
            "'self' data: https:",
        ),
        false => ("'self'", "'self' data:"),
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src {images}; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action {forms}; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
