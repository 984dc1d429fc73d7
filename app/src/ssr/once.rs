//! Secrets a posted form made (recovery codes, an app's secret), carried to
//! the page the post redirects to, which shows them once. They ride in one
//! short-lived HttpOnly cookie, sealed (`Tokens::seal`) for one purpose and
//! one account, so neither a header log nor another account can read them.

use latchkey_core::Services;

use super::{cookies, request, sealed};

/// Seals `values` for `purpose` and this account, for the next page.
pub fn carry(services: &Services, purpose: &str, user_id: &str, values: &[String]) {
    let sealed = sealed::seal_until(
        services,
        &owner(purpose, user_id),
        &values.join("\n"),
        cookies::ONCE_MAX_AGE,
    );
    request::set_cookies([cookies::once(&services.config, Some(sealed))]);
}

/// What a form carried here for `purpose` and this account, clearing the
/// cookie; nothing when it was sealed for another use or account, or its
/// minute is over.
pub fn take(services: &Services, purpose: &str, user_id: &str) -> Vec<String> {
    let Some(values) = request::cookie(cookies::ONCE)
        .and_then(|sealed| sealed::open_unexpired(services, &owner(purpose, user_id), &sealed))
    else {
        return Vec::new();
    };
    request::set_cookies([cookies::once(&services.config, None)]);
    values.lines().map(str::to_owned).collect()
}

fn owner(purpose: &str, user_id: &str) -> String {
    format!("{purpose}:{user_id}")
}
