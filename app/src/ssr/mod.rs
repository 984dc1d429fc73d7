//! Server-only code: the service layer and its stores. Server functions and the
//! JSON API are thin wrappers over [`Services`].

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod codes;
pub mod config;
pub mod cookies;
pub mod db;
pub mod devices;
pub mod email_change;
pub mod ephemeral;
pub mod headers;
pub mod letters;
pub mod mail;
pub mod outage;
pub mod password;
pub mod passwords;
pub mod policy;
pub mod quiet_signup;
pub mod request;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod validate;

use std::sync::Arc;

pub use config::AuthConfig;
pub use db::Db;
pub use ephemeral::{EphemeralStore, MemoryStore, RedisStore};
pub use password::Hasher;
pub use request::{Auth, ClientInfo};
pub use tokens::Tokens;

/// Everything a flow needs; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub ephemeral: Arc<dyn EphemeralStore>,
    pub hasher: Arc<Hasher>,
    pub tokens: Arc<Tokens>,
    pub config: Arc<AuthConfig>,
    /// Wakes the outbox worker when a mail is queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
}

impl Services {
    pub fn new(db: Db, ephemeral: Arc<dyn EphemeralStore>, config: AuthConfig) -> Self {
        let hasher = Arc::new(
            Hasher::new(config.hash_params.clone(), config.hash_workers)
                .with_queue_limit(config.hash_queue_max),
        );
        let tokens = Arc::new(Tokens::new(&config));
        Self {
            db,
            ephemeral,
            hasher,
            tokens,
            config: Arc::new(config),
            mail_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// Current time in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
