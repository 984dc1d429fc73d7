//! Latchkey's domain: the flows (sign-up, log-in, codes, resets, sessions,
//! administration), the rules they enforce and the stores they keep state
//! in. No HTTP and no UI: the server's REST handlers and the app's server
//! functions are thin wrappers over [`Services`], and words (error messages,
//! mail text) are supplied by the edge. See docs/DESIGN.md.

pub mod access_tokens;
pub mod accounts;
pub mod admin;
pub mod app_keys;
pub mod apps;
pub mod audit;
pub mod client;
pub mod codes;
pub mod config;
pub mod db;
pub mod email_change;
pub mod ephemeral;
pub mod error;
mod grants;
pub mod hashing;
pub mod letter;
pub mod limits;
pub mod links;
mod login_end;
pub mod oidc;
pub mod outbox;
pub mod overview;
pub mod own_sessions;
pub mod passkeys;
pub mod password_policy;
pub mod passwords;
pub mod quiet_signup;
pub mod second_factor;
pub mod session_cache;
pub mod sessions;
pub mod signing_keys;
pub mod throttle;
pub mod tokens;
pub mod upstream;
pub mod user_store;
pub mod validate;
pub mod webhook_queue;
pub mod webhooks;

use std::sync::Arc;

pub use access_tokens::AccessTokens;
pub use client::{Auth, ClientInfo};
pub use config::AuthConfig;
pub use db::Db;
pub use ephemeral::{EphemeralStore, MemoryStore, RedisStore};
pub use error::{Error, ErrorCode, Reason};
pub use hashing::Hasher;
pub use latchkey_types::model;
pub use latchkey_types::overview as overview_model;
pub use latchkey_types::webhooks as webhook_model;
pub use letter::{Letter, Letters};
pub use session_cache::{Change, SessionCache};
pub use signing_keys::SigningKeys;
pub use tokens::Tokens;

/// Everything a flow needs. One shared allocation: the middleware and
/// every handler take their own handle per request, so a clone is a single
/// reference count, not one per store.
#[derive(Clone)]
pub struct Services(Arc<Parts>);

/// What [`Services`] holds; reached through it (`services.db`).
pub struct Parts {
    pub db: Db,
    pub ephemeral: Arc<dyn EphemeralStore>,
    pub hasher: Arc<Hasher>,
    pub tokens: Arc<Tokens>,
    /// The keys that sign tokens, as published in the JWKS.
    pub keys: Arc<SigningKeys>,
    pub access_tokens: Arc<AccessTokens>,
    pub config: Arc<AuthConfig>,
    /// Words for each mail, in the account's language (supplied by the UI).
    pub letters: Arc<dyn Letters>,
    /// Wakes the outbox worker when a mail is queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// Live sessions, so most requests need no database trip.
    pub session_cache: Arc<SessionCache>,
    /// Passkeys' relying party; `None`: off (`PUBLIC_URL` is an address).
    pub relying_party: Option<webauthn_rs::prelude::Webauthn>,
    /// The events some webhook endpoint wants.
    pub subscriptions: webhook_queue::Subscriptions,
    /// Wakes the webhook worker when deliveries are waiting.
    pub webhook_wake: tokio::sync::Notify,
    /// The admin overview's days that can no longer change.
    pub overview_cache: overview::OverviewCache,
    /// Other identity providers' discovered metadata.
    pub upstreams: upstream::Upstreams,
}

impl std::ops::Deref for Services {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Services {
    pub fn new(
        db: Db,
        ephemeral: Arc<dyn EphemeralStore>,
        config: AuthConfig,
        letters: Arc<dyn Letters>,
    ) -> Self {
        let hasher = Arc::new(
            Hasher::new(config.hash_params.clone(), config.hash_workers)
                .with_queue_limit(config.hash_queue_max),
        );
        let tokens = Arc::new(Tokens::new(&config));
        let keys = Arc::new(SigningKeys::new(
            db.clone(),
            tokens.clone(),
            config.keys.clone(),
            config.access_ttl,
        ));
        let access_tokens = Arc::new(AccessTokens::new(&config, keys.clone()));
        let session_cache = Arc::new(SessionCache::new(ephemeral.shared()));
        // The server checked it at start-up (`passkeys::relying_party`).
        let relying_party = passkeys::relying_party(&config.public_url, &config.product)
            .ok()
            .flatten();
        // Outside a runtime (a one-shot command) nothing is held long
        // enough to need the channel.
        if ephemeral.shared() && tokio::runtime::Handle::try_current().is_ok() {
            SessionCache::listen(Arc::downgrade(&session_cache), ephemeral.clone());
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            SigningKeys::keep_in_background(Arc::downgrade(&keys));
        }
        Self(Arc::new(Parts {
            db,
            ephemeral,
            hasher,
            tokens,
            keys,
            access_tokens,
            config: Arc::new(config),
            letters,
            mail_wake: Arc::new(tokio::sync::Notify::new()),
            session_cache,
            relying_party,
            subscriptions: webhook_queue::Subscriptions::default(),
            overview_cache: overview::OverviewCache::default(),
            upstreams: upstream::Upstreams::default(),
            webhook_wake: tokio::sync::Notify::new(),
        }))
    }

    /// After a commit that changed a user or ended sessions: forgets them
    /// here and tells the other instances.
    pub(crate) async fn forget(&self, change: Change) {
        self.session_cache.forget(&change);
        self.session_cache.announce(&self.ephemeral, &change).await;
    }

    pub(crate) async fn forget_user(&self, user_id: &str) {
        self.forget(Change::User(user_id.to_owned())).await;
    }
}

/// The flows of one area, reached from `Services` (`services.accounts()`).
/// A handle borrows the services and reads through to them, so a flow's
/// body uses the stores and primitives as `self.db`, `self.limit(…)`.
macro_rules! areas {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {
        $(
            $(#[$doc])*
            pub struct $name<'a>(&'a Services);

            impl std::ops::Deref for $name<'_> {
                type Target = Services;

                fn deref(&self) -> &Services {
                    self.0
                }
            }
        )*

        impl Services {
            $(
                $(#[$doc])*
                pub fn $method(&self) -> $name<'_> {
                    $name(self)
                }
            )*
        }
    };
}

areas! {
    /// Sign-up (both kinds), log-in, sign-in by code, verification, the
    /// profile and its activity log, and changing (or undoing a change of)
    /// the email address.
    Accounts => accounts;
    /// Refresh rotation, authenticating a request, log-out, and a user's
    /// own signed-in sessions.
    Sessions => sessions;
    /// One-time codes: checking one, and when another may be sent.
    Codes => codes;
    /// Forgotten passwords, resets, changes, the strength meter, deleting
    /// an account.
    Passwords => passwords;
    /// The admin console: users, their changes, the whole activity log and
    /// the overview of the last days; `create-admin`.
    Admin => admin;
    /// The mail outbox: its worker and its depth.
    Outbox => outbox;
    /// Webhook endpoints, their deliveries, and the worker that sends them.
    Webhooks => webhooks;
    /// Authenticator apps and recovery codes: setting them up, removing
    /// them, and the second step of a sign-in.
    SecondFactors => second_factors;
    /// Passkeys: adding, naming and removing them, and signing in with one.
    Passkeys => passkeys;
    /// Apps that sign their users in through Latchkey: registering and
    /// changing them (the admin console).
    Apps => apps;
    /// The OpenID Connect provider: authorization, tokens, userinfo.
    Oidc => oidc;
    /// Signing in through other identity providers, and the identities
    /// linked to an account.
    Upstream => upstream;
}

/// Current time in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
