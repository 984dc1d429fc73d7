//! Secrets a posted form made (recovery codes, an app's secret), carried to
//! the page the post redirects to, which shows them once. They ride in one
//! short-lived HttpOnly cookie, sealed (`Tokens::seal`) for one purpose and
//! one account, so neither a header log nor another account can read them.

use latchkey_core::{now, Services};

use super::{cookies, request};

/// Seals `values` for `purpose` and this account, for the next page.
pub fn carry(services: &Services, purpose: &str, user_id: &str, values: &[String]) {
    let expires = now() + cookies::ONCE_MAX_AGE;
    let plain = format!("{expires}|{}", values.join("\n"));
    let sealed = services
        .tokens
        .seal(&owner(purpose, user_id), plain.as_bytes());
    request::set_cookies([cookies::once(&services.config, Some(sealed))]);
}

/// What a form carried here for `purpose` and this account, clearing the
/// cookie; nothing when it was sealed for another use or account, or its
/// minute is over.
pub fn take(services: &Services, purpose: &str, user_id: &str) -> Vec<String> {
    let Some(sealed) = request::cookie(cookies::ONCE) else {
        return Vec::new();
    };
    let plain = services
        .tokens
        .open(&owner(purpose, user_id), &sealed)
        .and_then(|plain| String::from_utf8(plain).ok())
        .unwrap_or_default();
    let values = match plain.split_once('|') {
        Some((expires, values)) if expires.parse().is_ok_and(|e: i64| e >= now()) => {
            values.lines().map(str::to_owned).collect()
        }
        _ => return Vec::new(),
    };
    request::set_cookies([cookies::once(&services.config, None)]);
    values
}

fn owner(purpose: &str, user_id: &str) -> String {
    format!("{purpose}:{user_id}")
}
