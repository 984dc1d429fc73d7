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
            // No ping before each use: it was a round trip (and on SQLite two
            // thread hand-offs) on every query. After a PostgreSQL restart,
            // each pooled connection fails its next query once (a 503) and
            // is replaced; none is kept longer than sqlx's 30 minutes.
            .test_before_acquire(false)
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
        MIGRATIONS.run(&self.pool).await
    }

    /// Writes a consistent copy of a SQLite database to `path` while the
    /// server keeps running (`VACUUM INTO`: one read transaction, so writes
    /// made meanwhile are either all in the copy or none). The file must
    /// not exist yet; it is made readable by its owner only (it holds
    /// password hashes and sealed secrets) and is on disk when this
    /// returns. PostgreSQL has `pg_dump` for this.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), String> {
        use std::os::unix::fs::OpenOptionsExt;
        if self.backend != Backend::Sqlite {
            return Err(
                "the backup command copies SQLite databases; for PostgreSQL use \
                        pg_dump --format=custom (docs/deploy.md)"
                    .into(),
            );
        }
        let target = path.to_str().ok_or("the backup path must be UTF-8")?;
        // Made here, empty and private (SQLite writes into an empty file);
        // `create_new` also refuses one that exists.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    format!("{} exists already: name a new file", path.display())
                }
                _ => format!("cannot create {}: {e}", path.display()),
            })?;
        let written = sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
            .execute(&self.pool)
            .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(format!("cannot write {}: {e}", path.display()));
        }
        // VACUUM INTO does not sync what it wrote.
        let synced = std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .and_then(
                |()| match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(dir) => std::fs::File::open(dir)?.sync_all(),
                    None => std::fs::File::open(".")?.sync_all(),
                },
            );
        synced.map_err(|e| format!("cannot flush {} to disk: {e}", path.display()))
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot
    /// upgrade once another connection has written, and fails with
    /// SQLITE_BUSY instead of waiting its turn.
    ///
    /// The transaction begins in a task of its own. A caller's future is
    /// dropped wherever it waits when its client hangs up, and sqlx 0.8
    /// can leave a `BEGIN` it sent unrecorded if dropped mid-way
    /// (PostgreSQL: while the answer is on its way; SQLite: while it
    /// checks the answer), so the connection would go back to the pool
    /// inside a transaction nobody ends — on SQLite holding the one write
    /// lock, on PostgreSQL with later queries' writes never committed. The
    /// task always finishes, and a transaction nobody took is dropped,
    /// which rolls it back.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let pool = self.pool.clone();
        let backend = self.backend;
        let begun = tokio::spawn(async move {
            match backend {
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Backend::Postgres => pool.begin().await,
            }
        })
        .await
        // Only a runtime shutting down cancels it.
        .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?;
        Ok(begun?)
    }

    /// What a `SELECT` inside [`Db::begin`]'s transaction appends to keep
    /// the rows it read from changing until the commit. PostgreSQL needs a
    /// row lock (shared: readers do not wait for each other); SQLite's
    /// `BEGIN IMMEDIATE` already holds the database's write lock.
    /// `table` is the name (or alias) in the `FROM` whose rows to lock.
    pub fn share_lock(&self, table: &str) -> String {
        match self.backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!(" FOR SHARE OF {table}"),
        }
    }

    /// ` FOR UPDATE OF {table}` on PostgreSQL: a read that holds the row
    /// against every other writer until the transaction ends (SQLite's
    /// transactions already hold its one write lock).
    pub fn update_lock(&self, table: &str) -> String {
        match self.backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!(" FOR UPDATE OF {table}"),
        }
    }

    /// Cheap reachability probe for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The migrations this build carries, applied in order at every start.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A database as found by [`inspect`], which changes nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// A SQLite file that does not exist yet: the first start creates it.
    NotYet,
    Schema {
        /// Migrations this build would apply at start, as `0013 oidc methods`.
        pending: Vec<String>,
        /// Versions applied by a newer build, which this one would refuse
        /// to start on.
        newer: Vec<i64>,
        /// Versions applied from different SQL than this build carries (a
        /// migration edited after it shipped): the start refuses them.
        altered: Vec<i64>,
        /// Versions whose migration failed part-way: the start refuses them.
        failed: Vec<i64>,
    },
}

/// Opens the database at `url` and compares its migrations with this
/// build's, for `check-config`, writing nothing: a SQLite file that does not
/// exist is not created, and an existing one is opened as the server opens
/// it (read-write, so the WAL's side files are cleaned up on close, as its
/// last connection does) and closed again.
pub async fn inspect(url: &str) -> Result<Found, sqlx::Error> {
    use sqlx::{ConnectOptions, Connection};
    use std::str::FromStr;
    const SQLITE_HAS: &str =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";
    const POSTGRES_HAS: &str = "SELECT count(*) FROM pg_catalog.pg_tables \
         WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()";
    const APPLIED: &str =
        "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version";
    let applied: Vec<(i64, bool, Vec<u8>)> = match Backend::from_url(url) {
        Some(Backend::Sqlite) => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .read_only(false)
                .create_if_missing(false);
            if !options.get_filename().try_exists()? {
                return Ok(Found::NotYet);
            }
            let mut conn = options.connect().await?;
            let has: i64 = sqlx::query_scalar(SQLITE_HAS).fetch_one(&mut conn).await?;
            let rows = match has {
                0 => Vec::new(),
                _ => sqlx::query_as(APPLIED).fetch_all(&mut conn).await?,
            };
            conn.close().await?;
            rows
        }
        Some(Backend::Postgres) => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            let has: i64 = sqlx::query_scalar(POSTGRES_HAS)
                .fetch_one(&mut conn)
                .await?;
            let rows = match has {
                0 => Vec::new(),
                _ => sqlx::query_as(APPLIED).fetch_all(&mut conn).await?,
            };
            conn.close().await?;
            rows
        }
        None => {
            return Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres://".into(),
            ))
        }
    };
    let ours = |version: i64| MIGRATIONS.iter().find(|m| m.version == version);
    let pending = MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _, _)| *v == m.version))
        .map(|m| format!("{:04} {}", m.version, m.description))
        .collect();
    let newer = applied
        .iter()
        .filter(|(v, _, _)| ours(*v).is_none())
        .map(|(v, _, _)| *v)
        .collect();
    let altered = applied
        .iter()
        .filter(|(v, ok, sum)| *ok && ours(*v).is_some_and(|m| *m.checksum != **sum))
        .map(|(v, _, _)| *v)
        .collect();
    let failed = applied
        .iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(v, _, _)| *v)
        .collect();
    Ok(Found::Schema {
        pending,
        newer,
        altered,
        failed,
    })
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
