//! What a request carries into the service layer: who is signed in (set by
//! the server's session middleware as a request extension) and where from.

use http::request::Parts;
use leptos::prelude::use_context;

use super::Services;
use crate::error::AppError;
use crate::model::{Me, User};

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user: User,
    pub session_id: String,
    pub access_expires_at: i64,
    /// When the session ends unless it is used (the refresh token's expiry).
    pub session_expires_at: i64,
    /// Where the request came from (set by the session middleware).
    pub client: ClientInfo,
}

impl Auth {
    pub fn me(&self) -> Me {
        Me {
            user: self.user.clone(),
            session_id: self.session_id.clone(),
            access_expires_at: self.access_expires_at,
            session_expires_at: self.session_expires_at,
        }
    }
}

/// Where a request came from, recorded on sessions, and the language it
/// asked for.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub locale: crate::locale::Locale,
    /// The device cookie this browser carries, if any (see `throttle`).
    pub device: Option<String>,
}

impl ClientInfo {
    /// What per-client rate limits count against: the address, or for IPv6
    /// its /64, which one subscriber gets whole (counting per address
    /// would give them 2^64 budgets).
    pub fn limit_key(&self) -> Option<String> {
        let ip = self.ip.as_deref()?;
        Some(match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            _ => ip.to_owned(),
        })
    }
}

/// In a server function: the services provided as context by the server.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("Services missing from the server function context");
        AppError::internal()
    })
}

/// In a server function: the signed-in user, if any.
pub fn current_auth() -> Option<Auth> {
    use_context::<Parts>()?.extensions.get::<Auth>().cloned()
}

/// In a server function: the signed-in user, or 401.
pub fn require_auth() -> Result<Auth, AppError> {
    current_auth().ok_or_else(AppError::unauthorized)
}

/// In a server function: the signed-in administrator; 401 for visitors,
/// 403 for everyone else.
pub fn require_admin() -> Result<Auth, AppError> {
    let auth = require_auth()?;
    super::admin::require_admin(&auth)?;
    Ok(auth)
}

/// In a server function: the value of one of our cookies.
pub fn cookie(base: &'static str) -> Option<String> {
    let config = use_context::<Services>()?.config;
    super::cookies::read(&use_context::<Parts>()?.headers, &config, base)
}

/// In a server function: the client's address and user agent.
pub fn client_info() -> ClientInfo {
    use_context::<Parts>()
        .and_then(|parts| parts.extensions.get::<ClientInfo>().cloned())
        .unwrap_or_default()
}

/// In a server function: whether a browser posted a form without
/// JavaScript (it asks for a page back; a hydrated page's call does not).
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
/// with a device cookie for a browser new to the account.
pub async fn set_session_cookies(
    services: &Services,
    user: &User,
    issued: &super::sessions::Issued,
) -> Result<(), AppError> {
    set_cookies(super::cookies::for_session(&services.config, issued));
    if let Some(token) = services.device_token(&user.id, &client_info()).await? {
        set_cookies([super::cookies::device(&services.config, token)]);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::ClientInfo;

    fn key(ip: &str) -> Option<String> {
        ClientInfo {
            ip: Some(ip.into()),
            ..Default::default()
        }
        .limit_key()
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        assert_eq!(key("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(
            key("2001:db8:1:2:aaaa::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(key("2001:db8:1:2::1").as_deref(), Some("2001:db8:1:2::/64"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(ClientInfo::default().limit_key(), None);
    }
}
