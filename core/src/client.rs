//! Who is asking: the signed-in account (set by the server's session
//! middleware) and the client a request came from.

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
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The language negotiated for the request, as a tag (`en`, `ko`).
    pub locale: &'static str,
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

impl Default for ClientInfo {
    fn default() -> Self {
        Self {
            ip: None,
            user_agent: None,
            locale: "en",
            device: None,
        }
    }
}

/// `s` cut to at most `max` characters (for what clients send: user
/// agents, addresses).
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// "Firefox 133 · Windows 10" from a user agent (no words, so it reads the
/// same in every language); API clients and other agents get their own
/// first word ("curl", "okhttp"); None when there is nothing to go by.
pub fn describe(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent.filter(|ua| !ua.trim().is_empty())?;
    match woothee::parser::Parser::new().parse(ua) {
        Some(r)
            if matches!(
                r.category,
                "pc" | "smartphone" | "mobilephone" | "appliance"
            ) =>
        {
            let major = r.version.split('.').next().unwrap_or_default();
            let browser = if major.is_empty() || major == "UNKNOWN" {
                r.name.to_string()
            } else {
                format!("{} {major}", r.name)
            };
            Some(if r.os == "UNKNOWN" {
                browser
            } else {
                format!("{browser} · {}", r.os)
            })
        }
        _ => ua
            .split(['/', ' '])
            .next()
            .filter(|word| !word.is_empty())
            .map(|word| word.chars().take(40).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, ClientInfo};

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

    #[test]
    fn devices_read_naturally() {
        assert_eq!(
            describe(Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")),
            Some("Chrome 131 · Linux".into())
        );
        assert_eq!(describe(Some("curl/8.5.0")), Some("curl".into()));
        assert_eq!(describe(None), None);
    }
}
