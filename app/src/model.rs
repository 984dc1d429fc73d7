//! Data shared by the server and the browser.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user as shown to the user themself (never includes secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: i64,
}

/// The signed-in user plus what the current session token says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    pub session_id: String,
    /// Unix seconds at which the current access token expires.
    pub access_expires_at: i64,
    /// Unix seconds at which this session ends (signed in until).
    pub session_expires_at: i64,
}

/// The live password meter's reading: the policy's verdict plus an estimate
/// of how hard the password is to guess (zxcvbn's 0–4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Strength {
    pub score: u8,
    /// Whether sign-up, reset and change would accept it.
    pub acceptable: bool,
    /// Why it is refused, or zxcvbn's warning.
    pub message: Option<String>,
    pub suggestions: Vec<String>,
}

/// One signed-in device, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: String,
    /// "Chrome 131 on Linux", from the user agent.
    pub device: String,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// The session making this request.
    pub current: bool,
}
