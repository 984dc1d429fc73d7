//! A server function's view of its request: the services, who is signed in
//! and where from (set by the server's session middleware as request
//! extensions), and the response's cookies.

use http::request::Parts;
use leptos::prelude::use_context;

use latchkey_core::{sessions::Issued, Auth, ClientInfo, Services};

use crate::error::AppError;
use crate::model::User;

/// In a server function: the services provided as context by the server.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("Services missing from the server function context");
        latchkey_core::Error::internal().into()
    })
}

/// In a server function: the signed-in user, if any.
pub fn current_auth() -> Option<Auth> {
    use_context::<Parts>()?.extensions.get::<Auth>().cloned()
}

/// In a server function: the signed-in user, or 401.
pub fn require_auth() -> Result<Auth, AppError> {
    current_auth().ok_or_else(|| latchkey_core::Error::unauthorized().into())
}

/// In a server function: the signed-in administrator; 401 for visitors,
/// 403 for everyone else.
pub fn require_admin() -> Result<Auth, AppError> {
    let auth = require_auth()?;
    latchkey_core::admin::require_admin(&auth)?;
    Ok(auth)
}

/// In a server function: the value of one of our cookies.
pub fn cookie(base: &'static str) -> Option<String> {
    let config = use_context::<Services>()?.config.clone();
    super::cookies::read(&use_context::<Parts>()?.headers, &config, base)
}

/// In a server function: the client's address and user agent.
pub fn client_info() -> ClientInfo {
    use_context::<Parts>()
        .and_then(|parts| parts.extensions.get::<ClientInfo>().cloned())
        .unwrap_or_default()
}

/// In a server function: whether a browser posted a form (it asks for a
/// page back; an island's call of a server function does not).
pub fn is_form_post() -> bool {
    use_context::<Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// In a server function: puts a session that just began on the response,
/// with a device cookie for a browser new to the account. The session the
/// browser held before, if any, ends.
pub async fn set_session_cookies(
    services: &Services,
    user: &User,
    issued: &Issued,
) -> Result<(), AppError> {
    services
        .sessions()
        .replaced(current_auth().as_ref(), issued)
        .await;
    set_cookies(super::cookies::for_session(&services.config, issued));
    if let Some(token) = services
        .accounts()
        .device_token(&user.id, &client_info())
        .await?
    {
        set_cookies([super::cookies::device(&services.config, token)]);
    }
    Ok(())
}

/// In a server function: where a sign-in lands. `next` when it is a page
/// here, unless an app's authorization or a provider's link waits for
/// this sign-in: those go on from the profile
/// (`server::oidc::resume_after_sign_in`), so they never stall.
pub fn landing(next: &str) -> &str {
    match use_context::<Services>().zip(use_context::<Parts>()) {
        Some((services, parts)) => super::cookies::landing(&parts.headers, &services.config, next),
        None => latchkey_types::paths::landing(next),
    }
}

/// In a page: whether this browser holds a second-factor challenge (a first
/// factor passed, the authenticator app's code awaited).
pub fn second_factor_waits() -> bool {
    holds(super::cookies::SECOND_FACTOR)
}

/// In a page: whether an app's authorization waits for this browser's
/// sign-in (parked in its cookie).
pub fn authorization_waits() -> bool {
    holds(super::cookies::AUTHORIZING)
}

/// Whether this request carries cookie `base` (its value is not read).
fn holds(base: &'static str) -> bool {
    use_context::<Services>()
        .zip(use_context::<Parts>())
        .is_some_and(|(services, parts)| {
            super::cookies::read(&parts.headers, &services.config, base).is_some()
        })
}

/// In a server function: a first factor's answer (password, emailed code,
/// reset link). When the account also asks for its authenticator app, the
/// challenge goes into a cookie and the browser on to
/// `/login/second-factor` (carrying `next`, where the sign-in lands), and
/// the answer is `None`.
pub fn unless_second_factor<T>(
    answer: Result<T, latchkey_core::Error>,
    next: &str,
) -> Result<Option<T>, AppError> {
    match answer {
        Ok(done) => Ok(Some(done)),
        Err(latchkey_core::Error {
            code: crate::error::ErrorCode::MfaRequired,
            challenge: Some(challenge),
            ..
        }) => {
            set_cookies([super::cookies::second_factor(
                &services()?.config,
                Some(&challenge.0),
            )]);
            leptos_axum::redirect(&latchkey_types::paths::with_next(
                "/login/second-factor",
                landing(next),
            ));
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// In a server function: adds `Set-Cookie` headers to the response.
pub fn set_cookies(values: impl IntoIterator<Item = String>) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    for value in values {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            response.append_header(http::header::SET_COOKIE, value);
        }
    }
}
