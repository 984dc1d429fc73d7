//! The service layer's settings; the server crate fills them from the environment.

use std::time::Duration;

pub use crate::hashing::HashParams;

/// One-time code rules (docs/DESIGN.md "email code").
#[derive(Debug, Clone)]
pub struct CodeConfig {
    pub ttl: Duration,
    pub resend_cooldown: Duration,
    pub max_tries: u32,
    pub sends_per_hour_per_email: u32,
    pub sends_per_hour_per_ip: u32,
    pub checks_per_hour_per_ip: u32,
    /// Wrong codes an address may get, across all its codes of one
    /// purpose, in `guess_window` (NIST SP 800-63B §5.2.2: at most 100);
    /// then its codes are refused for the rest of the window.
    pub guesses_per_window: u64,
    pub guess_window: Duration,
}

impl Default for CodeConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(180),
            resend_cooldown: Duration::from_secs(60),
            max_tries: 5,
            sends_per_hour_per_email: 10,
            sends_per_hour_per_ip: 50,
            checks_per_hour_per_ip: 100,
            guesses_per_window: 100,
            guess_window: Duration::from_secs(24 * 3600),
        }
    }
}

/// When token-signing keys rotate (see `signing_keys`).
#[derive(Debug, Clone)]
pub struct KeySchedule {
    /// How long a key signs (`KEY_ROTATION_DAYS`).
    pub rotation: Duration,
    /// How long before it signs a key is published (`KEY_PUBLISH_AHEAD_DAYS`).
    pub ahead: Duration,
}

impl Default for KeySchedule {
    fn default() -> Self {
        Self {
            rotation: Duration::from_secs(30 * 24 * 3600),
            ahead: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Features an operator can reserve for verified email addresses
/// (`VERIFIED_ONLY=change_username,change_email`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    ChangeUsername,
    ChangeEmail,
}

impl Feature {
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "change_username" => Some(Self::ChangeUsername),
            "change_email" => Some(Self::ChangeEmail),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::ChangeUsername => "change_username",
            Self::ChangeEmail => "change_email",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Features an unverified account may not use.
    pub verified_only: Vec<Feature>,
    /// Shown in mails and page titles.
    pub product: String,
    /// `From:` of every mail, e.g. `Latchkey <no-reply@example.com>`.
    pub mail_from: String,
    pub codes: CodeConfig,
    pub jwt_secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// A repeat of an already-rotated refresh token within this window is a
    /// race between tabs, not theft: it gets the same successor.
    pub refresh_grace: Duration,
    pub hash_params: HashParams,
    pub hash_workers: usize,
    /// Hash jobs that may be running or queued (`HASH_QUEUE_MAX`); more
    /// are refused with 503 before any work.
    pub hash_queue_max: usize,
    /// Sign-ups per client address an hour (`SIGNUPS_PER_HOUR_PER_IP`):
    /// each costs a hash and a row.
    pub signups_per_hour_per_ip: u32,
    /// `SIGNUP_HIDE_EXISTING`: sign-up answers alike for taken and free
    /// addresses (see `quiet_signup`).
    pub signup_hide_existing: bool,
    /// How long the outbox keeps retrying a mail before it gives up
    /// (`MAIL_GIVE_UP_AFTER_SECS`).
    pub mail_give_up_after: Duration,
    pub min_password_len: usize,
    /// Mark cookies `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Where users reach this app (links in mails), without a trailing slash.
    pub public_url: String,
    /// How long a password-reset link works.
    pub reset_ttl: Duration,
    /// Failed log-ins per account name, and per IP, in 15 minutes before
    /// each further failure doubles a wait (see `throttle`).
    pub login_free_failures: (u64, u64),
    /// How long a passkey ceremony may take between its two calls.
    pub passkey_ceremony_ttl: Duration,
    /// When token-signing keys rotate.
    pub keys: KeySchedule,
    /// `WEBHOOK_ALLOW_PRIVATE`: webhooks may go to loopback and private
    /// addresses, and over plain http (a receiver on the same network).
    pub webhook_allow_private: bool,
    /// How long a webhook is retried before it is marked failed, and how
    /// long an endpoint may fail every delivery before it is turned off
    /// (`WEBHOOK_GIVE_UP_AFTER_SECS`).
    pub webhook_give_up_after: Duration,
    /// The wait after a webhook's first failure; it doubles with each one.
    pub webhook_retry_base: Duration,
    /// Other identity providers people may sign in with (`upstream`).
    pub upstreams: Vec<UpstreamProvider>,
    /// `UPSTREAM_KEEP_TOKENS`: keep (sealed) the access token a provider
    /// gave at the last sign-in, for the person to fetch; off, nothing of
    /// the provider's is kept.
    pub keep_upstream_tokens: bool,
}

/// The defaults every deployment starts from; the server overrides what
/// the environment sets, tests what they must. The secret is empty: a
/// deployment supplies one (the server takes `LATCHKEY_SECRET`, or in
/// development makes a random one), and `Tokens::new` refuses one shorter
/// than 32 bytes.
impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            verified_only: Vec::new(),
            product: "Latchkey".into(),
            mail_from: "Latchkey <no-reply@localhost>".into(),
            codes: CodeConfig::default(),
            jwt_secret: Vec::new(),
            issuer: "http://127.0.0.1:3000".into(),
            audience: "latchkey".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            hash_params: HashParams::default(),
            hash_workers: 2,
            hash_queue_max: 2 * crate::hashing::DEFAULT_JOBS_PER_WORKER,
            signups_per_hour_per_ip: 30,
            signup_hide_existing: false,
            mail_give_up_after: Duration::from_secs(24 * 3600),
            min_password_len: 8,
            secure_cookies: false,
            public_url: "http://127.0.0.1:3000".into(),
            reset_ttl: Duration::from_secs(3600),
            login_free_failures: (5, 20),
            passkey_ceremony_ttl: Duration::from_secs(5 * 60),
            keys: KeySchedule::default(),
            webhook_allow_private: false,
            webhook_give_up_after: Duration::from_secs(24 * 3600),
            webhook_retry_base: Duration::from_secs(5),
            upstreams: Vec::new(),
            keep_upstream_tokens: false,
        }
    }
}

impl AuthConfig {
    /// Settings for tests: the defaults, with a fixed secret and room for
    /// many sign-ups from one address.
    pub fn for_tests() -> Self {
        Self {
            mail_from: "Latchkey <no-reply@latchkey.test>".into(),
            jwt_secret: b"test-secret-test-secret-test-secret!".to_vec(),
            signups_per_hour_per_ip: 100_000,
            ..Self::default()
        }
    }
}

/// An identity provider people may sign in with, as the operator
/// configured it (`upstream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamProvider {
    /// Its id in addresses: `[a-z0-9-]`, e.g. `kakao`.
    pub id: String,
    /// Its name on the button ("Kakao", "Acme SSO").
    pub name: String,
    /// How it is spoken to.
    pub kind: UpstreamKind,
    /// Who vouches for its identities (the key they are stored under),
    /// and where it answers: the OpenID Connect issuer, whose discovery is
    /// at `{issuer}/.well-known/openid-configuration`; for GitHub and
    /// Naver, their address (`https://github.com`, a GitHub Enterprise
    /// Server's, `https://nid.naver.com`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Asked for besides `openid` (e.g. `email`, `profile`).
    pub scopes: Vec<String>,
    /// Its ids for people differ from one registered app to the next
    /// (Kakao's and Naver's): they mean someone only with the client id.
    pub per_app_subjects: bool,
}

/// The ways a provider is spoken to: OpenID Connect, or plain OAuth 2.0
/// and the provider's own profile endpoints (GitHub's and Naver's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamKind {
    #[default]
    OpenIdConnect,
    GitHub,
    Naver,
}

impl UpstreamProvider {
    /// Whom its subjects are stored under: the issuer, and for a provider
    /// whose ids are per app, the client id too (another app's id 123 is
    /// another person, and must not sign in as ours).
    pub fn subject_space(&self) -> String {
        match self.per_app_subjects {
            true => format!("{} client_id={}", self.issuer, self.client_id),
            false => self.issuer.clone(),
        }
    }

    pub fn info(&self) -> crate::model::UpstreamInfo {
        crate::model::UpstreamInfo {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}
