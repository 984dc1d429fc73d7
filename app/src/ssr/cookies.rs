//! The browser session lives in two HttpOnly cookies. The refresh cookie is
//! sent on every path (not only a refresh route) because SSR page loads and
//! server functions refresh transparently.

use std::borrow::Cow;

use cookie::{time::Duration, Cookie, SameSite};
use http::HeaderMap;

use latchkey_core::{sessions::Issued, AuthConfig};

pub const ACCESS: &str = "lk_access";
pub const REFRESH: &str = "lk_refresh";
/// Carries a password-reset token from the emailed link to the reset form,
/// so the token leaves the address bar (history, screenshots, Referer).
pub const RESET: &str = "lk_reset";
/// The token of an emailed "this wasn't me" link, moved out of its URL.
pub const REVERT: &str = "lk_revert";
/// The token of a sign-up waiting for its code (`SIGNUP_HIDE_EXISTING`).
pub const SIGNUP: &str = "lk_signup";
/// The challenge of a sign-in waiting for its second factor, between the
/// first step's form and `/login/second-factor`.
pub const SECOND_FACTOR: &str = "lk_2fa";
/// Secrets a posted form just made (recovery codes, an app's secret),
/// carried to the page the post redirects to, which shows them once and
/// clears it; sealed for one use and account (`ssr::once`), so the cookie
/// itself shows nothing to whatever logs headers.
pub const ONCE: &str = "lk_once";
/// How long they wait for that page.
pub const ONCE_MAX_AGE: i64 = 60;
/// What a refused form post had in its kept fields (`ssr::kept`), sealed,
/// carried to the page that shows the refusal.
pub const KEPT: &str = "lk_kept";
/// How long it waits for that page (the post and its redirect).
pub const KEPT_MAX_AGE: i64 = 60;
/// An app's authorization request, sealed (`Oidc::park`), waiting while
/// the user signs in; taken by the first page after the sign-in.
pub const AUTHORIZING: &str = "lk_authorize";
/// How long it waits.
pub const AUTHORIZING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The `state` of a sign-in at another provider, binding its way back to
/// this browser (`latchkey_core::upstream`).
pub const UPSTREAM: &str = "lk_upstream";
/// An identity at another provider waiting for its account's owner to
/// sign in and confirm the link (`/security/link`).
pub const LINKING: &str = "lk_link";
/// Marks a browser that has signed in to an account before, so a stranger
/// throttling that account's log-in does not lock its owner out.
pub const DEVICE: &str = "lk_device";
/// How long a browser stays known.
const DEVICE_MAX_AGE: i64 = 365 * 24 * 3600;

/// The name a cookie goes by. Over https it carries the `__Host-` prefix:
/// browsers then take it only from this very host, `Secure`, with `Path=/`
/// and no `Domain`, so a sibling subdomain cannot plant or overwrite a
/// session (cookie tossing).
pub fn name(config: &AuthConfig, base: &'static str) -> Cow<'static, str> {
    if config.secure_cookies {
        Cow::Owned(format!("__Host-{base}"))
    } else {
        Cow::Borrowed(base)
    }
}

fn build(config: &AuthConfig, base: &'static str, value: String, max_age: i64) -> String {
    Cookie::build((name(config, base), value))
        .path("/")
        .http_only(true)
        .secure(config.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(max_age))
        .build()
        .to_string()
}

/// `Set-Cookie` values for a freshly issued pair of tokens.
pub fn for_session(config: &AuthConfig, issued: &Issued) -> [String; 2] {
    let now = latchkey_core::now();
    [
        build(
            config,
            ACCESS,
            issued.access_token.clone(),
            issued.access_expires_at - now,
        ),
        build(
            config,
            REFRESH,
            issued.refresh_token.clone(),
            issued.refresh_expires_at - now,
        ),
    ]
}

/// `Set-Cookie` for a device cookie (kept across sign-outs).
pub fn device(config: &AuthConfig, token: String) -> String {
    build(config, DEVICE, token, DEVICE_MAX_AGE)
}

/// Whether a `Set-Cookie` value sets (or clears) the session.
pub fn is_session(config: &AuthConfig, set_cookie: &str) -> bool {
    [ACCESS, REFRESH]
        .iter()
        .any(|base| set_cookie.starts_with(&format!("{}=", name(config, base))))
}

/// Whether a `Set-Cookie` value carries a secret other than the session:
/// a pending sign-in, a fresh secret or what a refused form kept (no cache
/// may keep it, nor the page that shows it).
pub fn is_secret(config: &AuthConfig, set_cookie: &str) -> bool {
    [SECOND_FACTOR, ONCE, UPSTREAM, LINKING, KEPT]
        .iter()
        .any(|base| set_cookie.starts_with(&format!("{}=", name(config, base))))
}

/// `Set-Cookie` values that remove the session from the browser.
pub fn cleared(config: &AuthConfig) -> [String; 2] {
    [
        build(config, ACCESS, String::new(), 0),
        build(config, REFRESH, String::new(), 0),
    ]
}

/// `Set-Cookie` for the chosen language. Not HttpOnly: it holds nothing
/// secret, and a script of the page's may read it.
pub fn locale(config: &AuthConfig, locale: crate::locale::Locale) -> String {
    Cookie::build((crate::locale::COOKIE, crate::locale::tag(locale).to_owned()))
        .path("/")
        .secure(config.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(365))
        .build()
        .to_string()
}

/// `Set-Cookie` for the reset token (None: remove it).
pub fn reset_token(config: &AuthConfig, token: Option<&str>) -> String {
    link_token(config, RESET, token, config.reset_ttl)
}

/// `Set-Cookie` for an emailed link's token (`RESET`, `REVERT`), kept as
/// long as the link works (None: remove it).
pub fn link_token(
    config: &AuthConfig,
    base: &'static str,
    token: Option<&str>,
    ttl: std::time::Duration,
) -> String {
    let max_age = token.map_or(0, |_| ttl.as_secs() as i64);
    build(config, base, token.unwrap_or_default().to_owned(), max_age)
}

/// `Set-Cookie` for a pending sign-up's token (None: remove it); it lives
/// as long as the code it goes with.
pub fn signup_token(config: &AuthConfig, token: Option<&str>) -> String {
    let max_age = token.map_or(0, |_| config.codes.ttl.as_secs() as i64);
    build(
        config,
        SIGNUP,
        token.unwrap_or_default().to_owned(),
        max_age,
    )
}

/// `Set-Cookie` for a second-factor challenge (None: remove it); it lives
/// as long as the challenge does.
pub fn second_factor(config: &AuthConfig, token: Option<&str>) -> String {
    link_token(
        config,
        SECOND_FACTOR,
        token,
        latchkey_core::second_factor::CHALLENGE_TTL,
    )
}

/// `Set-Cookie` for a fresh secret on its way to the page that shows it,
/// sealed for its owner (None: remove it).
pub fn once(config: &AuthConfig, sealed: Option<String>) -> String {
    let max_age = sealed.as_ref().map_or(0, |_| ONCE_MAX_AGE);
    build(config, ONCE, sealed.unwrap_or_default(), max_age)
}

/// `Set-Cookie` for a refused form's kept values, sealed (None: remove it).
pub fn kept(config: &AuthConfig, sealed: Option<String>) -> String {
    let max_age = sealed.as_ref().map_or(0, |_| KEPT_MAX_AGE);
    build(config, KEPT, sealed.unwrap_or_default(), max_age)
}

/// `Set-Cookie` for one of the sign-in-elsewhere tokens (`UPSTREAM`,
/// `LINKING`; None: remove it); they live as long as the sign-in may.
pub fn upstream(config: &AuthConfig, base: &'static str, token: Option<&str>) -> String {
    link_token(config, base, token, latchkey_core::upstream::STATE_TTL)
}

/// The value of our cookie `base` (see [`name`]) in a request's headers.
pub fn read(headers: &HeaderMap, config: &AuthConfig, base: &'static str) -> Option<String> {
    read_named(headers, &name(config, base))
}

/// What waits for a sign-in, and goes on from `/profile` once it is done
/// (`server::oidc::resume_after_sign_in`), whatever page the sign-in was
/// to land on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// An app's authorization, parked in `AUTHORIZING`.
    Authorization,
    /// An identity at a provider, to link (`LINKING`).
    Link,
}

/// What waits for this browser's sign-in, if anything.
pub fn waiting_for_sign_in(headers: &HeaderMap, config: &AuthConfig) -> Option<Waiting> {
    if read(headers, config, AUTHORIZING).is_some() {
        return Some(Waiting::Authorization);
    }
    read(headers, config, LINKING).map(|_| Waiting::Link)
}

/// Where this browser's sign-in lands: the profile when something waits
/// for it (it goes on from there), else `next` if it is a page here.
pub fn landing<'a>(headers: &HeaderMap, config: &AuthConfig, next: &'a str) -> &'a str {
    match waiting_for_sign_in(headers, config) {
        Some(_) => "/profile",
        None => latchkey_types::paths::landing(next),
    }
}

/// The value of the cookie called exactly `name`.
pub fn read_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}
