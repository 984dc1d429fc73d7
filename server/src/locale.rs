//! Which language a request gets, decided once per request by the session
//! middleware: the language switcher's cookie, else the best of
//! `Accept-Language`, else English. Pages, errors and mail then agree.

use app::locale::{from_accept_language, from_tag, Locale, COOKIE};
use axum::http::{header, HeaderMap};

/// The locale for a request with these headers.
pub fn negotiate(headers: &HeaderMap) -> Locale {
    app::ssr::cookies::read_named(headers, COOKIE)
        .and_then(|value| from_tag(&value))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(from_accept_language)
        })
        .unwrap_or_default()
}
