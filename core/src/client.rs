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
