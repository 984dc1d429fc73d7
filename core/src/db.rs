//! The relational store: one sqlx `Any` pool over SQLite or PostgreSQL, chosen
//! by the URL. Queries use `$n` placeholders, which both backends accept.

use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::error::{Error, ErrorCode, Reason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// What can go wrong in a store, in the terms the services care about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the row; carries the index name.
    #[error("unique constraint {0} violated")]
    Conflict(String),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// Text the database cannot store (PostgreSQL refuses NUL characters):
    /// the client's input, not our fault.
    #[error("text the database cannot store")]
    BadText,
    /// Redis (codes, limits) could not be reached or failed.
    #[error("ephemeral store unavailable: {0}")]
    Ephemeral(String),
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                // PostgreSQL names the index; SQLite names the columns
                // ("UNIQUE constraint failed: users.email").
                let name = db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| db.message().to_owned());
                StoreError::Conflict(name)
            }
            // character_not_in_repertoire: a NUL byte in a string.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                StoreError::BadText
            }
            // The server is going away or not there yet: connection
            // exceptions (class 08) and operator intervention (class 57:
            // shutdown, restart, "cannot connect now").
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57")) =>
            {
                StoreError::Unavailable(err)
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(err),
            _ => StoreError::Other(err),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(e) => {
                Error::unavailable().caused_by(format_args!("database unavailable: {e}"))
            }
            StoreError::BadText => Error::of(ErrorCode::InvalidInput, Reason::BadText),
            StoreError::Ephemeral(e) => {
                Error::unavailable().caused_by(format_args!("ephemeral store unavailable: {e}"))
            }
            other => Error::internal().caused_by(format_args!("database error: {other}")),
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

impl Db {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            sqlx::Error::Configuration(
                format!("DATABASE_URL must start with sqlite: or postgres://, got {url:?}").into(),
            )
        })?;
        let (url, max) = match backend {
            // Create the file on first run; one writer at a time anyway.
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                (format!("{url}{sep}mode=rwc"), 4)
            }
            Backend::Sqlite => (url.to_owned(), 4),
            Backend::Postgres => (url.to_owned(), 16),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // Fail fast with a 503 when the database is gone, instead of hanging.
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Applies the embedded migrations (the same SQL serves both backends).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations").run(&self.pool).await
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot
    /// upgrade once another connection has written, and fails with
    /// SQLITE_BUSY instead of waiting its turn.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Cheap reachability probe for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A `LIKE … ESCAPE '\'` pattern matching `text` anywhere, wildcards in
/// `text` taken literally.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
