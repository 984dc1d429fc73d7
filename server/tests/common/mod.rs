//! Test harness: real databases only. Every test gets a fresh SQLite file or
//! a fresh PostgreSQL database; an unreachable PostgreSQL fails the test with
//! the command that starts it.
#![allow(dead_code)]

use std::sync::Once;

use app::ssr::{AuthConfig, Db, Services};
use leptos::config::LeptosOptions;
use sqlx::Connection;

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

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database of the given kind.
pub async fn fresh_db(backend: Backend) -> Db {
    init_tracing();
    let url = match backend {
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
    };
    let db = Db::connect(&url)
        .await
        .expect("connect to the test database");
    db.migrate().await.expect("migrations apply");
    db
}

pub async fn services(backend: Backend) -> Services {
    services_with(backend, AuthConfig::for_tests()).await
}

pub async fn services_with(backend: Backend, config: AuthConfig) -> Services {
    Services::new(fresh_db(backend).await, config)
}

pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("latchkey")
        .site_root(std::env::temp_dir().display().to_string())
        .build()
}

/// A unique, valid username.
pub fn unique_name() -> String {
    format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Runs one async test body against SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, |$backend:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $backend = $crate::common::Backend::Sqlite;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let $backend = $crate::common::Backend::Postgres;
                $body
            }
        }
    };
}
