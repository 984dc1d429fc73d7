//! Configuration from the environment (and an optional `.env`), then an
//! optional settings file (`latchkey.toml`), validated at start-up: every
//! problem is reported at once, one line each. `check-config` prints the
//! effective settings beside the same problems.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use latchkey_core::config::{AuthConfig, CodeConfig, Feature, HashParams};
use rand::RngCore;

use crate::brand::Branding;
use crate::client_addr::{ForwardedHeader, TrustedProxies};
use crate::router::Edge;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub database_url: String,
    /// Unset: the in-process store (one instance only).
    pub redis_url: Option<String>,
    /// Put before every Redis key (`REDIS_PREFIX`), so deployments can share
    /// one Redis without sharing codes and limits.
    pub redis_prefix: String,
    /// Unset: mail is printed to the log.
    pub smtp_url: Option<String>,
    pub public_url: String,
    /// Origins whose pages may call the JSON API (`CORS_ALLOWED_ORIGINS`).
    pub cors_origins: Vec<String>,
    /// Proxies whose forwarding header names the client (`TRUSTED_PROXIES`,
    /// `FORWARDED_HEADER`); none by default.
    pub trusted_proxies: TrustedProxies,
    pub bind: SocketAddr,
    /// Where `/metrics` is served (`METRICS_ADDR`; `off` serves none).
    pub metrics_bind: Option<SocketAddr>,
    pub site_root: String,
    pub json_logs: bool,
    /// No `LATCHKEY_SECRET` was given: a random one signs for this process.
    pub random_secret: bool,
    /// The product's name, logo, colours and links (`server::brand`).
    pub brand: Branding,
    /// The operator's mail templates (`MAIL_TEMPLATES`), checked.
    pub mail_templates: Option<std::sync::Arc<crate::mail::Templates>>,
    pub auth: AuthConfig,
}

/// Where settings come from: the process environment (with `.env`) first,
/// then the settings file. The file's keys are the environment's names, in
/// any case (`public_url = "https://…"`); lists may be TOML arrays.
#[derive(Debug, Default)]
pub struct Sources {
    file: Option<SettingsFile>,
    /// Tests read a file alone, whatever the process environment holds.
    ignore_environment: bool,
}

#[derive(Debug)]
struct SettingsFile {
    path: PathBuf,
    values: BTreeMap<String, String>,
}

/// Where one setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Environment,
    File,
    Default,
}

impl Sources {
    /// `LATCHKEY_CONFIG` names the settings file, which must then exist;
    /// without it, `latchkey.toml` in the working directory is read when
    /// present.
    pub fn load() -> Result<Self, String> {
        let (path, required) = match std::env::var_os("LATCHKEY_CONFIG") {
            Some(path) if !path.is_empty() => (PathBuf::from(path), true),
            _ => (PathBuf::from("latchkey.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_toml(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(Self::default()),
            Err(e) => Err(format!(
                "cannot read the settings file {}: {e}",
                path.display()
            )),
        }
    }

    /// Reads a settings file's text (`path` names it in problems).
    pub fn from_toml(path: PathBuf, text: &str) -> Result<Self, String> {
        let table: toml::Table = text
            .parse()
            // The message and place only: the parser's own text quotes the
            // line, which may hold a secret.
            .map_err(|e: toml::de::Error| {
                let line = e
                    .span()
                    .map(|span| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1);
                match line {
                    Some(line) => format!(
                        "{} is not valid TOML (line {line}): {}",
                        path.display(),
                        e.message()
                    ),
                    None => format!("{} is not valid TOML: {}", path.display(), e.message()),
                }
            })?;
        let mut values = BTreeMap::new();
        for (key, value) in table {
            let flat = match value {
                toml::Value::String(s) => Some(s),
                toml::Value::Integer(n) => Some(n.to_string()),
                toml::Value::Boolean(b) => Some(b.to_string()),
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        toml::Value::String(s) => Some(s),
                        toml::Value::Integer(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(|items| items.join(",")),
                _ => None,
            };
            let Some(flat) = flat else {
                return Err(format!(
                    "{}: {key} must be a string, a whole number, true/false or a list of strings",
                    path.display()
                ));
            };
            values.insert(key.to_uppercase(), flat);
        }
        Ok(Self {
            file: Some(SettingsFile { path, values }),
            ignore_environment: false,
        })
    }

    /// These sources without the process environment (tests).
    pub fn file_only(self) -> Self {
        Self {
            ignore_environment: true,
            ..self
        }
    }

    /// The file's own value for `key`, whatever the environment says.
    pub fn file_value(&self, key: &str) -> Option<&str> {
        self.file
            .as_ref()
            .and_then(|f| f.values.get(key))
            .map(String::as_str)
    }

    /// The file read, if any.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    /// A setting's raw value: the environment's, else the file's. Blank
    /// counts as unset.
    pub fn get(&self, key: &str) -> Option<String> {
        self.lookup(key).0
    }

    pub fn origin(&self, key: &str) -> Origin {
        self.lookup(key).1
    }

    fn lookup(&self, key: &str) -> (Option<String>, Origin) {
        let set = |v: &String| !v.trim().is_empty();
        let env = (!self.ignore_environment)
            .then(|| std::env::var(key).ok())
            .flatten();
        if let Some(value) = env.filter(set) {
            return (Some(value), Origin::Environment);
        }
        match self
            .file
            .as_ref()
            .and_then(|f| f.values.get(key))
            .filter(|v| set(v))
        {
            Some(value) => (Some(value.clone()), Origin::File),
            None => (None, Origin::Default),
        }
    }
}

const SECRET_MIN_BYTES: usize = 32;

impl Config {
    /// Reads the process environment and the settings file.
    pub fn load(sources: &Sources) -> Result<Self, Vec<String>> {
        let (config, problems) = Self::read(sources);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// The settings as they would take effect (a value that cannot be read
    /// is replaced by its default) and every problem with them, including a
    /// key in the settings file that names no setting.
    pub fn read(sources: &Sources) -> (Self, Vec<String>) {
        let asked = RefCell::new(BTreeSet::new());
        let (config, mut problems) = Self::read_lookup(|key| {
            asked.borrow_mut().insert(key.to_owned());
            sources.get(key)
        });
        if let Some(file) = &sources.file {
            let asked = asked.borrow();
            for key in file.values.keys().filter(|key| !asked.contains(*key)) {
                problems.push(format!(
                    "{} names no setting: {key} (the README's Configuration table lists them)",
                    file.path.display()
                ));
            }
        }
        (config, problems)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let (config, problems) = Self::read_lookup(get);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    fn read_lookup(get: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut parse = |key: &str, default: u64| -> u64 {
            match get(key) {
                None => default,
                Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                    problems.push(format!("{key} must be a whole number, got {raw:?}"));
                    default
                }),
            }
        };
        let d = AuthConfig::default();
        let secs = |d: Duration| d.as_secs();
        let access_ttl = parse("ACCESS_TOKEN_TTL_SECS", secs(d.access_ttl));
        let refresh_ttl = parse("REFRESH_TOKEN_TTL_SECS", secs(d.refresh_ttl));
        let min_password_len = parse("PASSWORD_MIN_LENGTH", d.min_password_len as u64);
        let m_cost = parse("ARGON2_MEMORY_KIB", u64::from(d.hash_params.m_cost));
        let t_cost = parse("ARGON2_ITERATIONS", u64::from(d.hash_params.t_cost));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let hash_workers = parse("HASH_WORKERS", cores).max(1);
        let hash_queue_max = parse(
            "HASH_QUEUE_MAX",
            hash_workers * latchkey_core::hashing::DEFAULT_JOBS_PER_WORKER as u64,
        );
        let signups_per_ip = parse(
            "SIGNUPS_PER_HOUR_PER_IP",
            u64::from(d.signups_per_hour_per_ip),
        );
        let mail_give_up_after = parse("MAIL_GIVE_UP_AFTER_SECS", secs(d.mail_give_up_after));
        let webhook_give_up_after =
            parse("WEBHOOK_GIVE_UP_AFTER_SECS", secs(d.webhook_give_up_after));
        let code_ttl = parse("CODE_TTL_SECS", secs(d.codes.ttl));
        let reset_ttl = parse("RESET_TOKEN_TTL_SECS", secs(d.reset_ttl));
        let code_cooldown = parse("CODE_RESEND_COOLDOWN_SECS", secs(d.codes.resend_cooldown));
        let code_sends_per_ip = parse(
            "CODE_SENDS_PER_HOUR_PER_IP",
            u64::from(d.codes.sends_per_hour_per_ip),
        );
        let login_free_per_account = parse("LOGIN_FREE_ATTEMPTS", d.login_free_failures.0);
        let login_free_per_ip = parse("LOGIN_FREE_ATTEMPTS_PER_IP", d.login_free_failures.1);
        let days = |d: Duration| d.as_secs() / 86_400;
        let key_rotation_days = parse("KEY_ROTATION_DAYS", days(d.keys.rotation));
        let key_ahead_days = parse("KEY_PUBLISH_AHEAD_DAYS", days(d.keys.ahead));

        let mut flag = |key: &str| match get(key).as_deref() {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(other) => {
                problems.push(format!("{key} must be true or false, got {other:?}"));
                false
            }
        };
        let signup_hide_existing = flag("SIGNUP_HIDE_EXISTING");
        let webhook_allow_private = flag("WEBHOOK_ALLOW_PRIVATE");
        let keep_upstream_tokens = flag("UPSTREAM_KEEP_TOKENS");

        let mode = match get("LATCHKEY_ENV").as_deref() {
            None | Some("development") | Some("dev") => Mode::Development,
            Some("production") | Some("prod") => Mode::Production,
            Some(other) => {
                problems.push(format!(
                    "LATCHKEY_ENV must be development or production, got {other:?}"
                ));
                Mode::Development
            }
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://latchkey.db".into());
        if latchkey_core::db::Backend::from_url(&database_url).is_none() {
            problems.push(format!(
                "DATABASE_URL must start with sqlite: or postgres://, got {:?}",
                redact(&database_url)
            ));
        }

        let bind_raw = get("LEPTOS_SITE_ADDR")
            .or_else(|| get("BIND_ADDR"))
            .unwrap_or_else(|| "127.0.0.1:3000".into());
        let bind = bind_raw.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "LEPTOS_SITE_ADDR must be host:port, got {bind_raw:?}"
            ));
            SocketAddr::from(([127, 0, 0, 1], 3000))
        });
        let metrics_bind = match get("METRICS_ADDR").as_deref() {
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            Some("off") => None,
            Some(raw) => Some(raw.parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "METRICS_ADDR must be host:port or off, got {raw:?}"
                ));
                SocketAddr::from(([127, 0, 0, 1], 9464))
            })),
        };
        let public_url = get("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            problems.push(format!(
                "PUBLIC_URL must be an http(s) URL, got {public_url:?}"
            ));
        }
        if mode == Mode::Production && !public_url.starts_with("https://") {
            problems.push(format!(
                "PUBLIC_URL must use https:// in production, got {public_url:?}"
            ));
        }
        // Passkeys are scoped to PUBLIC_URL's domain: a URL they cannot use
        // stops the start, an IP address only turns them off (logged at
        // start-up).
        let brand = Branding::read(&get, &mut problems);
        let upstreams = crate::upstream::read(&get, &mut problems);
        if let Err(problem) = latchkey_core::passkeys::relying_party(&public_url, &brand.product) {
            problems.push(problem);
        }

        let mut cors_origins = Vec::new();
        for origin in get("CORS_ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            let scheme_end = origin.find("://").map_or(0, |i| i + 3);
            let well_formed = (origin.starts_with("http://") || origin.starts_with("https://"))
                && scheme_end < origin.len()
                && !origin[scheme_end..].contains('/');
            if well_formed {
                cors_origins.push(origin.to_owned());
            } else {
                problems.push(format!(
                    "CORS_ALLOWED_ORIGINS takes origins like https://app.example.com (no path), got {origin:?}"
                ));
            }
        }

        let mut trusted_proxies = TrustedProxies::default();
        match TrustedProxies::parse_list(&get("TRUSTED_PROXIES").unwrap_or_default()) {
            Ok(networks) => trusted_proxies.networks = networks,
            Err(bad) => problems.push(format!(
                "TRUSTED_PROXIES takes addresses or CIDR blocks like 10.0.0.0/8, ::1, got {bad:?}"
            )),
        }
        if let Some(raw) = get("FORWARDED_HEADER") {
            match ForwardedHeader::parse(&raw) {
                Some(header) => trusted_proxies.header = header,
                None => problems.push(format!(
                    "FORWARDED_HEADER must be x-forwarded-for or forwarded, got {raw:?}"
                )),
            }
        }

        let random_secret = get("LATCHKEY_SECRET").is_none();
        let jwt_secret = match get("LATCHKEY_SECRET") {
            Some(raw) => {
                let bytes = STANDARD
                    .decode(raw.trim())
                    .unwrap_or_else(|_| raw.into_bytes());
                if bytes.len() < SECRET_MIN_BYTES {
                    problems.push(format!(
                        "LATCHKEY_SECRET must hold at least {SECRET_MIN_BYTES} bytes (try: openssl rand -base64 48)"
                    ));
                }
                bytes
            }
            None if mode == Mode::Production => {
                problems.push(
                    "LATCHKEY_SECRET is required in production (try: openssl rand -base64 48)"
                        .into(),
                );
                Vec::new()
            }
            None => {
                let mut bytes = vec![0u8; 48];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                bytes
            }
        };

        if !(8..=64).contains(&min_password_len) {
            problems.push("PASSWORD_MIN_LENGTH must be between 8 and 64".into());
        }
        if m_cost < 19 * 1024 || t_cost < 2 {
            problems.push(
                "ARGON2_MEMORY_KIB must be at least 19456 and ARGON2_ITERATIONS at least 2 (OWASP minimum)"
                    .into(),
            );
        }
        if access_ttl < 30 || refresh_ttl <= access_ttl {
            problems.push(
                "ACCESS_TOKEN_TTL_SECS must be at least 30 and below REFRESH_TOKEN_TTL_SECS".into(),
            );
        }

        // A verifier caches the JWKS for an hour: a key published a day or
        // more before it signs is always in the copy it holds.
        if key_ahead_days < 1 || key_rotation_days <= key_ahead_days || key_rotation_days > 3650 {
            problems.push(
                "KEY_PUBLISH_AHEAD_DAYS must be at least 1 and below KEY_ROTATION_DAYS (at most 3650)"
                    .into(),
            );
        }

        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push(format!(
                    "REDIS_URL must start with redis:// or rediss://, got {:?}",
                    redact(url)
                ));
            }
        }
        let smtp_url = get("SMTP_URL");
        match &smtp_url {
            Some(url) if !(url.starts_with("smtp://") || url.starts_with("smtps://")) => {
                problems.push("SMTP_URL must start with smtp:// or smtps://".into());
            }
            // Without SMTP every mail (codes, reset links) is printed to the
            // log: fine on a laptop, a leak into log storage in production.
            None if mode == Mode::Production => problems.push(
                "SMTP_URL is required in production (mail would be printed to the log, codes and links included)"
                    .into(),
            ),
            _ => {}
        }
        // Unset, mail comes from the product's name at a placeholder address.
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| {
            let placeholder = d
                .mail_from
                .parse::<lettre::message::Mailbox>()
                .map(|m| m.email);
            match placeholder {
                Ok(email) => {
                    lettre::message::Mailbox::new(Some(brand.product.clone()), email).to_string()
                }
                Err(_) => d.mail_from.clone(),
            }
        });
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            problems.push(format!("MAIL_FROM must be an address like 'Latchkey <no-reply@example.com>', got {mail_from:?}"));
        }
        let mut verified_only = Vec::new();
        for name in get("VERIFIED_ONLY")
            .unwrap_or_default()
            .split(',')
            .filter(|n| !n.trim().is_empty())
        {
            match Feature::parse(name) {
                Some(feature) => verified_only.push(feature),
                None => problems.push(format!(
                    "VERIFIED_ONLY lists unknown feature {name:?} (known: change_username, change_email)"
                )),
            }
        }
        if login_free_per_account == 0 || login_free_per_ip == 0 {
            problems.push(
                "LOGIN_FREE_ATTEMPTS and LOGIN_FREE_ATTEMPTS_PER_IP must be at least 1".into(),
            );
        }
        if code_ttl < 10 {
            problems.push("CODE_TTL_SECS must be at least 10".into());
        }
        if !(1..=86_400).contains(&reset_ttl) {
            problems.push("RESET_TOKEN_TTL_SECS must be between 1 and 86400".into());
        }

        let mail_templates = get("MAIL_TEMPLATES").and_then(|dir| {
            let deployment = crate::mail::Deployment {
                support_email: brand.support_email.clone(),
                public_url: public_url.clone(),
            };
            crate::mail::Templates::load(std::path::Path::new(dir.trim()), &deployment)
                .map(std::sync::Arc::new)
                .map_err(|more| problems.extend(more))
                .ok()
        });

        let json_logs = match get("LOG_FORMAT").as_deref() {
            Some("json") => true,
            Some("text") => false,
            None => mode == Mode::Production,
            Some(other) => {
                problems.push(format!("LOG_FORMAT must be json or text, got {other:?}"));
                false
            }
        };

        let config = Self {
            mode,
            database_url,
            redis_url,
            redis_prefix: get("REDIS_PREFIX").unwrap_or_else(|| "latchkey:".into()),
            smtp_url,
            bind,
            metrics_bind,
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            json_logs,
            random_secret,
            auth: AuthConfig {
                verified_only,
                product: brand.product.clone(),
                mail_from,
                codes: CodeConfig {
                    ttl: Duration::from_secs(code_ttl),
                    resend_cooldown: Duration::from_secs(code_cooldown),
                    sends_per_hour_per_ip: code_sends_per_ip.min(u64::from(u32::MAX)) as u32,
                    ..CodeConfig::default()
                },
                jwt_secret,
                issuer: public_url.clone(),
                audience: d.audience.clone(),
                access_ttl: Duration::from_secs(access_ttl),
                refresh_ttl: Duration::from_secs(refresh_ttl),
                refresh_grace: d.refresh_grace,
                hash_params: HashParams {
                    m_cost: m_cost as u32,
                    t_cost: t_cost as u32,
                    p_cost: d.hash_params.p_cost,
                },
                hash_workers: hash_workers as usize,
                hash_queue_max: hash_queue_max.max(1) as usize,
                signups_per_hour_per_ip: signups_per_ip.min(u64::from(u32::MAX)) as u32,
                signup_hide_existing,
                mail_give_up_after: Duration::from_secs(mail_give_up_after.max(60)),
                min_password_len: min_password_len as usize,
                secure_cookies: public_url.starts_with("https://"),
                public_url: public_url.trim_end_matches('/').to_owned(),
                reset_ttl: Duration::from_secs(reset_ttl),
                login_free_failures: (login_free_per_account, login_free_per_ip),
                passkey_ceremony_ttl: d.passkey_ceremony_ttl,
                keys: latchkey_core::config::KeySchedule {
                    rotation: Duration::from_secs(key_rotation_days * 86_400),
                    ahead: Duration::from_secs(key_ahead_days * 86_400),
                },
                webhook_allow_private,
                webhook_give_up_after: Duration::from_secs(webhook_give_up_after.max(60)),
                webhook_retry_base: d.webhook_retry_base,
                upstreams,
                keep_upstream_tokens,
            },
            public_url,
            cors_origins,
            trusted_proxies,
            brand,
            mail_templates,
        };
        (config, problems)
    }

    /// Every setting as it takes effect, by its environment name, secrets
    /// masked: what `check-config` prints.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let a = &self.auth;
        let brand = self.brand.settings();
        let list = |items: Vec<String>, none: &str| {
            if items.is_empty() {
                none.to_owned()
            } else {
                items.join(", ")
            }
        };
        vec![
            ("LATCHKEY_ENV", format!("{:?}", self.mode).to_lowercase()),
            ("PUBLIC_URL", self.public_url.clone()),
            ("LEPTOS_SITE_ADDR", self.bind.to_string()),
            ("LEPTOS_SITE_ROOT", self.site_root.clone()),
            (
                "METRICS_ADDR",
                self.metrics_bind.map_or("off".into(), |a| a.to_string()),
            ),
            ("DATABASE_URL", redact(&self.database_url)),
            (
                "REDIS_URL",
                self.redis_url.as_deref().map_or(
                    "unset: codes and limits live in this process (one instance only)".into(),
                    redact,
                ),
            ),
            ("REDIS_PREFIX", self.redis_prefix.clone()),
            (
                "SMTP_URL",
                self.smtp_url
                    .as_deref()
                    .map_or("unset: mail is printed to the log".into(), redact),
            ),
            ("MAIL_FROM", a.mail_from.clone()),
            (
                "MAIL_TEMPLATES",
                self.mail_templates
                    .as_ref()
                    .map_or("unset: the built-in mails".into(), |t| {
                        format!("{} ({} parts replaced)", t.dir().display(), t.count())
                    }),
            ),
            (
                "LATCHKEY_SECRET",
                if self.random_secret {
                    "unset: a random one for this process (every restart signs everyone out)".into()
                } else {
                    format!("set ({} bytes, not shown)", a.jwt_secret.len())
                },
            ),
            (
                "TRUSTED_PROXIES",
                list(
                    self.trusted_proxies
                        .networks
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    "none: forwarding headers are ignored",
                ),
            ),
            (
                "FORWARDED_HEADER",
                self.trusted_proxies.header.name().into(),
            ),
            (
                "CORS_ALLOWED_ORIGINS",
                list(self.cors_origins.clone(), "none"),
            ),
            (
                "LOG_FORMAT",
                if self.json_logs { "json" } else { "text" }.into(),
            ),
            ("ACCESS_TOKEN_TTL_SECS", a.access_ttl.as_secs().to_string()),
            (
                "REFRESH_TOKEN_TTL_SECS",
                a.refresh_ttl.as_secs().to_string(),
            ),
            (
                "KEY_ROTATION_DAYS",
                (a.keys.rotation.as_secs() / 86_400).to_string(),
            ),
            (
                "KEY_PUBLISH_AHEAD_DAYS",
                (a.keys.ahead.as_secs() / 86_400).to_string(),
            ),
            ("PASSWORD_MIN_LENGTH", a.min_password_len.to_string()),
            ("ARGON2_MEMORY_KIB", a.hash_params.m_cost.to_string()),
            ("ARGON2_ITERATIONS", a.hash_params.t_cost.to_string()),
            ("HASH_WORKERS", a.hash_workers.to_string()),
            ("HASH_QUEUE_MAX", a.hash_queue_max.to_string()),
            ("LOGIN_FREE_ATTEMPTS", a.login_free_failures.0.to_string()),
            (
                "LOGIN_FREE_ATTEMPTS_PER_IP",
                a.login_free_failures.1.to_string(),
            ),
            (
                "SIGNUPS_PER_HOUR_PER_IP",
                a.signups_per_hour_per_ip.to_string(),
            ),
            ("SIGNUP_HIDE_EXISTING", a.signup_hide_existing.to_string()),
            (
                "VERIFIED_ONLY",
                list(
                    a.verified_only
                        .iter()
                        .map(|f| f.name().to_owned())
                        .collect(),
                    "none",
                ),
            ),
            ("CODE_TTL_SECS", a.codes.ttl.as_secs().to_string()),
            (
                "CODE_RESEND_COOLDOWN_SECS",
                a.codes.resend_cooldown.as_secs().to_string(),
            ),
            (
                "CODE_SENDS_PER_HOUR_PER_IP",
                a.codes.sends_per_hour_per_ip.to_string(),
            ),
            ("RESET_TOKEN_TTL_SECS", a.reset_ttl.as_secs().to_string()),
            (
                "MAIL_GIVE_UP_AFTER_SECS",
                a.mail_give_up_after.as_secs().to_string(),
            ),
            ("WEBHOOK_ALLOW_PRIVATE", a.webhook_allow_private.to_string()),
            ("UPSTREAM_KEEP_TOKENS", a.keep_upstream_tokens.to_string()),
            (
                "WEBHOOK_GIVE_UP_AFTER_SECS",
                a.webhook_give_up_after.as_secs().to_string(),
            ),
        ]
        .into_iter()
        .chain(brand)
        .chain(crate::upstream::settings(|id| {
            a.upstreams.iter().find(|p| p.id == id).cloned()
        }))
        .collect()
    }

    /// Settings that work but are likely a mistake where they are.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        // Latchkey speaks plain HTTP: an https:// address means something in
        // front terminates TLS, and unless it is trusted, every client looks
        // like that proxy to the rate limits.
        if self.public_url.starts_with("https://") && self.trusted_proxies.networks.is_empty() {
            warnings.push(
                "PUBLIC_URL is https:// but TRUSTED_PROXIES is empty: behind a TLS proxy every \
                 client shares the proxy's address, so one client's failures throttle everyone. \
                 Name the proxy's address (e.g. TRUSTED_PROXIES=127.0.0.1)."
                    .into(),
            );
        }
        if self.mode == Mode::Production && self.redis_url.is_none() {
            warnings.push(
                "REDIS_URL is unset: run exactly one instance (codes, limits and sign-outs \
                 are kept in its memory)."
                    .into(),
            );
        }
        if self.mode == Mode::Production && self.database_url.starts_with("sqlite:") {
            warnings.push(
                "DATABASE_URL is SQLite: fine for one instance; back it up with \
                 `latchkey backup` (docs/deploy.md)."
                    .into(),
            );
        }
        if self.mode == Mode::Production && self.auth.webhook_allow_private {
            warnings.push(
                "WEBHOOK_ALLOW_PRIVATE is on: an administrator's webhook can reach this \
                 machine and its private network, over plain http."
                    .into(),
            );
        }
        warnings
    }

    /// The Leptos options the server renders with: the built site under
    /// `LEPTOS_SITE_ROOT`, linked by the hashed names the build made.
    pub fn leptos_options(&self) -> Result<leptos::config::LeptosOptions, String> {
        crate::assets::with_hashes(
            leptos::config::LeptosOptions::builder()
                .output_name("latchkey")
                .site_root(self.site_root.as_str())
                .site_pkg_dir("pkg")
                .site_addr(self.bind)
                .build(),
        )
    }

    /// The letters this deployment writes: the built-in ones, with the
    /// parts `MAIL_TEMPLATES` replaces.
    pub fn letters(&self) -> crate::mail::Templated {
        crate::mail::Templated {
            templates: self.mail_templates.clone(),
            deployment: crate::mail::Deployment {
                support_email: self.brand.support_email.clone(),
                public_url: self.public_url.clone(),
            },
        }
    }

    /// What the router needs to know about the network in front of it.
    pub fn edge(&self) -> Edge {
        Edge {
            public_url: self.public_url.clone(),
            cors_origins: self.cors_origins.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            brand: self.brand.clone(),
        }
    }
}

/// A URL with its secrets hidden, for logs and `check-config`: the
/// password (everything between `://` and `@`) and any query parameter
/// that carries one (`?password=…`, which sqlx and redis also read).
pub fn redact(url: &str) -> String {
    // The authority first, over the whole URL: a password may hold `?`.
    let masked = match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    };
    let Some((base, query)) = masked.split_once('?') else {
        return masked;
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _))
                if ["pass", "secret", "token", "key"]
                    .iter()
                    .any(|s| key.to_ascii_lowercase().contains(s)) =>
            {
                format!("{key}=…")
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn file(text: &str) -> Sources {
        Sources::from_toml(PathBuf::from("latchkey.toml"), text)
            .unwrap()
            .file_only()
    }

    /// `check-config` shows every setting the server reads: a new setting
    /// cannot be forgotten there.
    #[test]
    fn every_setting_read_is_shown_by_check_config() {
        let asked = RefCell::new(BTreeSet::new());
        let (config, _) = Config::read_lookup(|key| {
            asked.borrow_mut().insert(key.to_owned());
            None
        });
        let shown: BTreeSet<String> = config
            .settings()
            .into_iter()
            .map(|(key, _)| key.to_owned())
            .collect();
        let mut asked = asked.into_inner();
        asked.remove("BIND_ADDR"); // LEPTOS_SITE_ADDR's older name
        assert_eq!(asked, shown);
    }

    #[test]
    fn the_settings_file_takes_env_names_in_any_case_and_lists_as_arrays() {
        let sources = file(
            r#"
            latchkey_env = "production"
            PUBLIC_URL = "https://auth.example.com"
            smtp_url = "smtp://mail.example.com:25"
            latchkey_secret = "0123456789abcdef0123456789abcdef0123456789"
            trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
            access_token_ttl_secs = 600
            signup_hide_existing = true
            "#,
        );
        let c = Config::load(&sources).unwrap();
        assert_eq!(c.mode, Mode::Production);
        assert_eq!(c.public_url, "https://auth.example.com");
        assert_eq!(c.trusted_proxies.networks.len(), 2);
        assert_eq!(c.auth.access_ttl, Duration::from_secs(600));
        assert!(c.auth.signup_hide_existing);
        assert!(!c.random_secret);
        assert_eq!(sources.origin("PUBLIC_URL"), Origin::File);
        assert_eq!(sources.origin("REDIS_URL"), Origin::Default);
    }

    #[test]
    fn a_settings_file_key_that_names_no_setting_is_a_problem() {
        let problems = Config::load(&file("pubilc_url = \"https://x.example\"\n")).unwrap_err();
        assert_eq!(
            problems,
            ["latchkey.toml names no setting: PUBILC_URL (the README's Configuration table lists them)"]
        );
        let nested = Sources::from_toml(PathBuf::from("l.toml"), "[database]\nurl = \"x\"\n");
        assert_eq!(
            nested.unwrap_err(),
            "l.toml: database must be a string, a whole number, true/false or a list of strings"
        );
        let broken = Sources::from_toml(
            PathBuf::from("l.toml"),
            "public_url = \"x\"\nlatchkey_secret = \"hunter2-and-more\n",
        )
        .unwrap_err();
        assert!(
            broken.starts_with("l.toml is not valid TOML (line 2)"),
            "{broken}"
        );
        assert!(
            !broken.contains("hunter2"),
            "the line is not quoted: {broken}"
        );
    }

    #[test]
    fn redact_hides_passwords_in_the_authority_and_the_query() {
        assert_eq!(redact("postgres://u:pw@db/x"), "postgres://…@db/x");
        assert_eq!(
            redact("postgres://db/x?user=u&password=pw&sslmode=require"),
            "postgres://db/x?user=u&password=…&sslmode=require"
        );
        assert_eq!(
            redact("sqlite://latchkey.db?mode=rwc"),
            "sqlite://latchkey.db?mode=rwc"
        );
        assert_eq!(redact("postgres://u:pa?ss@db/x"), "postgres://…@db/x");
        let problems = config(&[("DATABASE_URL", "mysql://u:hunter2@db/x")]).unwrap_err();
        assert!(!format!("{problems:?}").contains("hunter2"), "{problems:?}");
    }

    #[test]
    fn settings_hide_passwords_and_the_secret() {
        let c = config(&[
            ("DATABASE_URL", "postgres://latchkey:hunter2@db/latchkey"),
            ("REDIS_URL", "redis://:redispw@cache:6379"),
            ("LATCHKEY_SECRET", "a secret of more than thirty-two bytes"),
        ])
        .unwrap();
        let shown = format!("{:?}", c.settings());
        for secret in ["hunter2", "redispw", "thirty-two"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("postgres://…@db/latchkey"), "{shown}");
    }

    #[test]
    fn https_without_a_trusted_proxy_is_warned_about() {
        let behind = config(&[("PUBLIC_URL", "https://auth.example.com")]).unwrap();
        assert!(behind.warnings()[0].contains("TRUSTED_PROXIES is empty"));
        let named = config(&[
            ("PUBLIC_URL", "https://auth.example.com"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ])
        .unwrap();
        assert!(named.warnings().is_empty(), "{:?}", named.warnings());
    }

    #[test]
    fn defaults_are_the_embedded_dev_setup() {
        let c = config(&[]).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.database_url, "sqlite://latchkey.db");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.auth.access_ttl, Duration::from_secs(900));
        assert!(c.auth.jwt_secret.len() >= 32, "a random dev secret");
        assert!(!c.auth.secure_cookies);
        assert!(
            c.trusted_proxies.networks.is_empty(),
            "no forwarding header is believed unless proxies are named"
        );
    }

    #[test]
    fn trusted_proxies_are_cidr_blocks() {
        let c = config(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1, fd00::/8"),
            ("FORWARDED_HEADER", "Forwarded"),
        ])
        .unwrap();
        assert_eq!(c.trusted_proxies.networks.len(), 3);
        assert_eq!(c.trusted_proxies.header, ForwardedHeader::Forwarded);
        let problems = config(&[
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("FORWARDED_HEADER", "x-real-ip"),
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn production_refuses_weak_setups_and_lists_every_problem() {
        let problems = config(&[
            ("LATCHKEY_ENV", "production"),
            ("ACCESS_TOKEN_TTL_SECS", "soon"),
        ])
        .unwrap_err();
        assert!(problems
            .iter()
            .any(|p| p.contains("LATCHKEY_SECRET is required")));
        assert!(problems.iter().any(|p| p.contains("https://")));
        assert!(problems.iter().any(|p| p.contains("ACCESS_TOKEN_TTL_SECS")));
        assert!(problems.iter().any(|p| p.contains("SMTP_URL is required")));

        let short = config(&[
            ("LATCHKEY_ENV", "production"),
            ("PUBLIC_URL", "https://auth.example.com"),
            ("SMTP_URL", "smtp://mail:25"),
            ("LATCHKEY_SECRET", "too-short"),
        ])
        .unwrap_err();
        assert_eq!(short.len(), 1, "{short:?}");
    }

    #[test]
    fn key_schedules_a_cached_jwks_could_miss_are_refused() {
        let ok = config(&[("KEY_ROTATION_DAYS", "14"), ("KEY_PUBLISH_AHEAD_DAYS", "3")]).unwrap();
        assert_eq!(ok.auth.keys.rotation, Duration::from_secs(14 * 86_400));
        assert_eq!(ok.auth.keys.ahead, Duration::from_secs(3 * 86_400));
        for pair in [("0", "7"), ("7", "7"), ("8", "7"), ("1", "4000")] {
            let problems = config(&[
                ("KEY_PUBLISH_AHEAD_DAYS", pair.0),
                ("KEY_ROTATION_DAYS", pair.1),
            ])
            .unwrap_err();
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("KEY_PUBLISH_AHEAD_DAYS must be")),
                "{pair:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn hashing_below_owasp_and_odd_password_floors_are_refused_at_start_up() {
        for (key, value, says) in [
            (
                "ARGON2_MEMORY_KIB",
                "19455",
                "ARGON2_MEMORY_KIB must be at least 19456",
            ),
            ("ARGON2_ITERATIONS", "1", "ARGON2_ITERATIONS at least 2"),
            (
                "PASSWORD_MIN_LENGTH",
                "7",
                "PASSWORD_MIN_LENGTH must be between 8 and 64",
            ),
            (
                "PASSWORD_MIN_LENGTH",
                "65",
                "PASSWORD_MIN_LENGTH must be between 8 and 64",
            ),
        ] {
            let problems = config(&[(key, value)]).unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains(says)),
                "{key}={value}: {problems:?}"
            );
        }
        let c = config(&[
            ("ARGON2_MEMORY_KIB", "65536"),
            ("PASSWORD_MIN_LENGTH", "12"),
        ])
        .unwrap();
        assert_eq!(c.auth.hash_params.m_cost, 65536);
        assert_eq!(c.auth.min_password_len, 12);
    }

    /// The environment's defaults are the domain's: one set of numbers.
    #[test]
    fn unset_settings_take_the_domains_defaults() {
        let c = config(&[]).unwrap();
        let d = latchkey_core::AuthConfig::default();
        assert_eq!(c.auth.refresh_ttl, d.refresh_ttl);
        assert_eq!(c.auth.refresh_grace, d.refresh_grace);
        assert_eq!(c.auth.reset_ttl, d.reset_ttl);
        assert_eq!(c.auth.login_free_failures, d.login_free_failures);
        assert_eq!(c.auth.codes.ttl, d.codes.ttl);
        assert_eq!(c.auth.codes.max_tries, d.codes.max_tries);
        assert_eq!(c.auth.signups_per_hour_per_ip, d.signups_per_hour_per_ip);
        assert_eq!(c.auth.hash_params, d.hash_params);
        assert_eq!(c.auth.mail_from, d.mail_from);
    }

    #[test]
    fn production_accepts_a_strong_secret_over_https() {
        let secret = STANDARD.encode([7u8; 48]);
        let c = config(&[
            ("LATCHKEY_ENV", "production"),
            ("PUBLIC_URL", "https://auth.example.com/"),
            ("LATCHKEY_SECRET", &secret),
            ("SMTP_URL", "smtps://user:pass@mail.example.com"),
            ("DATABASE_URL", "postgres://db/latchkey"),
        ])
        .unwrap();
        assert_eq!(c.public_url, "https://auth.example.com");
        assert!(c.auth.secure_cookies);
        assert!(c.json_logs);
    }
}
