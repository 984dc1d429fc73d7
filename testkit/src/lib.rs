//! The test harness both crates' integration tests share (`core/tests/it`,
//! `server/tests`): real databases only. Every test gets a fresh SQLite file
//! or a fresh PostgreSQL database and Redis namespace; an unreachable
//! PostgreSQL or Redis fails the test with the command that starts it. Mail
//! goes to a real SMTP server on loopback (`smtp`), in the app's words.

pub mod authenticator;
pub mod smtp;
pub mod webhook_receiver;

use std::sync::Once;

use std::sync::Arc;

use latchkey_core::{AuthConfig, Db, EphemeralStore, MemoryStore, RedisStore, Services};
use sqlx::Connection;

pub const REDIS_HINT: &str = "Redis is not reachable. Start it with \
    `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no` \
    or point LATCHKEY_TEST_REDIS_URL at a server (default redis://127.0.0.1:6379)";

pub const POSTGRES_HINT: &str = "PostgreSQL is not reachable. Start it with \
    `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
    or point LATCHKEY_TEST_POSTGRES_URL at a server (default postgres://postgres@127.0.0.1:5432/test)";

fn postgres_admin_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
    });
}

/// The two deployments we test: embedded (SQLite + in-process store) and
/// production (PostgreSQL + Redis).
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A Redis store in a namespace of its own, so tests never see each
/// other's keys (or a previous run's).
pub async fn redis_store() -> RedisStore {
    redis_store_in(&format!("lktest:{}:", uuid::Uuid::new_v4().simple())).await
}

/// A Redis store in the namespace `prefix` (two stores with one prefix are
/// two instances of one deployment).
pub async fn redis_store_in(prefix: &str) -> RedisStore {
    let url = std::env::var("LATCHKEY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let store = RedisStore::connect(&url, prefix)
        .await
        .unwrap_or_else(|e| panic!("{REDIS_HINT}\n(cause: {e})"));
    store
        .ping()
        .await
        .unwrap_or_else(|e| panic!("{REDIS_HINT}\n(cause: {e})"));
    store
}

pub async fn ephemeral(backend: Backend) -> Arc<dyn EphemeralStore> {
    match backend {
        Backend::Sqlite => Arc::new(MemoryStore::new()),
        Backend::Postgres => Arc::new(redis_store().await),
    }
}

/// A fresh, migrated database of the given kind.
pub async fn fresh_db(backend: Backend) -> Db {
    connect(&fresh_db_url(backend).await).await
}

/// Connects to and migrates the database at `url` (a second connection
/// pool to one database is what a second server instance has).
pub async fn connect(url: &str) -> Db {
    let db = Db::connect(url)
        .await
        .expect("connect to the test database");
    db.migrate().await.expect("migrations apply");
    db
}

/// The URL of a new, empty database of the given kind.
pub async fn fresh_db_url(backend: Backend) -> String {
    init_tracing();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("latchkey-tests");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/{}.db", dir.display(), uuid::Uuid::new_v4())
        }
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("{POSTGRES_HINT}\n(cause: {e})"));
            let name = format!("lk_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create a test database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
    }
}

pub async fn services(backend: Backend) -> Services {
    services_with(backend, AuthConfig::for_tests()).await
}

pub async fn services_with(backend: Backend, config: AuthConfig) -> Services {
    let services = Services::new(
        fresh_db(backend).await,
        ephemeral(backend).await,
        config,
        letters(),
    );
    // As the server does before it serves.
    services.keys.ready().await.expect("signing keys");
    services
        .read_webhook_subscriptions()
        .await
        .expect("webhook endpoints");
    services
}

/// The product's own letters (the app's words), which tests read.
pub fn letters() -> Arc<dyn latchkey_core::Letters> {
    Arc::new(app::letters::Translated)
}

/// A unique, valid username.
pub fn unique_name() -> String {
    format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Runs one async test body on both deployments.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, |$backend:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_memory() {
                let $backend = $crate::Backend::Sqlite;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_redis() {
                let $backend = $crate::Backend::Postgres;
                $body
            }
        }
    };
}

/// Services whose mail goes to a real SMTP server on loopback.
pub async fn services_with_smtp(backend: Backend, config: AuthConfig) -> (Services, smtp::Inbox) {
    let (port, inbox) = smtp::start().await;
    let services = services_with(backend, config).await;
    start_outbox(&services, port);
    (services, inbox)
}

/// Signs `email` in by the code mailed to it, as the mailbox's owner would.
pub async fn sign_in_by_code(
    s: &Services,
    inbox: &smtp::Inbox,
    email: &str,
) -> Result<(latchkey_core::model::User, latchkey_core::sessions::Issued), latchkey_core::Error> {
    s.accounts()
        .request_signin_code(email, &client())
        .await
        .expect("a sign-in code is sent");
    let mail = inbox.wait_for_subject(email, "sign-in code").await;
    s.accounts()
        .signin_with_code(email, &smtp::code_in(&mail), &client())
        .await
}

/// Runs the outbox worker against the SMTP server on `port` until the test's
/// runtime ends.
pub fn start_outbox(services: &Services, port: u16) {
    let transport =
        latchkey_core::outbox::Transport::from_url(Some(&format!("smtp://127.0.0.1:{port}")))
            .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    let services = services.clone();
    tokio::spawn(async move { services.outbox().run_outbox(transport, stopped).await });
}

/// Runs the webhook worker until the test's runtime ends.
pub fn start_webhooks(services: &Services) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    let services = services.clone();
    tokio::spawn(async move { services.webhooks().run_webhooks(stopped).await });
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A client at a random private address, so one test's per-address limits
/// never touch another's.
pub fn client() -> latchkey_core::ClientInfo {
    let b = uuid::Uuid::new_v4().into_bytes();
    client_at(&format!("10.{}.{}.{}", b[0], b[1], b[2]))
}

/// A client at `ip`.
pub fn client_at(ip: &str) -> latchkey_core::ClientInfo {
    latchkey_core::ClientInfo {
        ip: Some(ip.into()),
        user_agent: Some("tests".into()),
        locale: "en",
        device: None,
    }
}

/// A request that says nothing about where it came from.
pub const NO_CLIENT: latchkey_core::ClientInfo = latchkey_core::ClientInfo {
    ip: None,
    user_agent: None,
    locale: "en",
    device: None,
};

/// An account made through the real sign-up flow.
pub struct NewAccount {
    pub name: String,
    pub email: String,
    pub user: latchkey_core::model::User,
    pub issued: latchkey_core::sessions::Issued,
}

pub async fn sign_up(s: &Services) -> NewAccount {
    let name = unique_name();
    sign_up_with(s, name.clone(), format!("{name}@example.com")).await
}

/// `sign_up`, with the given address.
pub async fn sign_up_as(s: &Services, email: &str) -> NewAccount {
    sign_up_with(s, unique_name(), email.to_owned()).await
}

async fn sign_up_with(s: &Services, name: String, email: String) -> NewAccount {
    let client = latchkey_core::ClientInfo {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("tests".into()),
        locale: "en",
        device: None,
    };
    let (user, issued) = s
        .accounts()
        .signup(&email, &name, PASSWORD.into(), &client)
        .await
        .expect("sign-up succeeds");
    NewAccount {
        name,
        email,
        user,
        issued,
    }
}

/// An administrator made the operator's way (`create-admin`), signed in.
pub async fn make_admin(s: &Services) -> NewAccount {
    let name = unique_name();
    let email = format!("{name}@example.com");
    let (admin, created) = s
        .admin()
        .create_admin(&email, &name, false, || Ok(PASSWORD.into()))
        .await
        .expect("create-admin succeeds");
    assert!(created);
    let client = latchkey_core::ClientInfo {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("tests".into()),
        locale: "en",
        device: None,
    };
    let (user, issued) = s
        .accounts()
        .login(&email, PASSWORD.into(), &client)
        .await
        .expect("the new admin can log in");
    assert_eq!(user.role, latchkey_core::model::Role::Admin);
    assert_eq!(admin.user.id, user.id);
    NewAccount {
        name,
        email,
        user,
        issued,
    }
}

/// The signed-in state of a fresh account's first session.
pub async fn auth_of(s: &Services, account: &NewAccount) -> latchkey_core::Auth {
    s.sessions()
        .authenticate(&account.issued.access_token, &NO_CLIENT)
        .await
        .unwrap()
        .expect("a fresh session")
}

/// What the edge would say for a domain error (its English message).
pub fn words(err: &latchkey_core::Error) -> String {
    app::error::AppError::from(err.clone()).message
}

/// The code an authenticator app shows for `secret` (base32, spaces
/// allowed) at `when`, in oathtool's time syntax (`now`, `now + 30
/// seconds`): Debian's `oathtool`, an RFC 6238 implementation nobody here
/// wrote, plays the app.
pub fn authenticator_code(secret: &str, when: &str) -> String {
    let secret: String = secret.split_whitespace().collect();
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "-b", &secret, "-N", when])
        .output()
        .expect("oathtool is installed (scripts/tools.sh --browser: apt-get install oathtool)");
    assert!(
        out.status.success(),
        "oathtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("oathtool prints digits")
        .trim()
        .to_owned()
}
