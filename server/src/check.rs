//! `latchkey check-config`: the effective settings, then every problem at
//! once, in the settings themselves and in reaching what they name (the
//! database, Redis, SMTP, the built site, the addresses to listen on).
//! Changes nothing: no migration runs, no SQLite file is created, no mail
//! is sent.

use std::fmt::Write;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use latchkey_core::db::{self, Found};
use latchkey_core::outbox::Transport;
use latchkey_core::{EphemeralStore, RedisStore};

use crate::config::{redact, Config, Origin, Sources};

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// The printable report.
    pub text: String,
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn check(sources: &Sources) -> Report {
    let (config, mut problems) = Config::read(sources);
    let mut notes = Vec::new();
    probe(&config, &mut problems, &mut notes).await;

    let mut text = String::new();
    let from = match sources.file() {
        Some(path) => format!("the environment, then {}", path.display()),
        None => "the environment (no settings file)".into(),
    };
    let _ = writeln!(text, "Settings, from {from}:");
    for (key, value) in config.settings() {
        let origin = match sources.origin(key) {
            Origin::Environment => "env",
            Origin::File => "file",
            Origin::Default => "default",
        };
        let _ = writeln!(text, "  {key:<28} {value}  ({origin})");
    }
    let mut section = |title: &str, lines: &[String]| {
        if !lines.is_empty() {
            let _ = writeln!(text, "\n{title}:");
            for line in lines {
                let _ = writeln!(text, "  - {line}");
            }
        }
    };
    section("Notes", &notes);
    let mut warnings = config.warnings();
    warnings.extend(exposed_secrets(sources));
    section("Warnings", &warnings);
    section("Problems", &problems);
    let _ = writeln!(
        text,
        "\n{}",
        if problems.is_empty() {
            "No problems: Latchkey can start with these settings.".to_owned()
        } else {
            format!(
                "{} problem(s): Latchkey would not start or not work.",
                problems.len()
            )
        }
    );
    Report { text, problems }
}

/// A settings file anyone on the machine can read should hold no secret.
fn exposed_secrets(sources: &Sources) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = sources.file()?;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o004 == 0 {
            return None;
        }
        let held: Vec<&str> = ["LATCHKEY_SECRET", "DATABASE_URL", "REDIS_URL", "SMTP_URL"]
            .into_iter()
            // What the file holds, even where the environment overrides it.
            .filter(|key| {
                sources.file_value(key).is_some_and(|value| {
                    !value.trim().is_empty()
                        && (*key == "LATCHKEY_SECRET" || redact(value) != value)
                })
            })
            .collect();
        (!held.is_empty()).then(|| {
            format!(
                "{} is readable by every user and holds {}: `chmod 640` it, or move \
                 secrets to a root-only environment file (docs/deploy.md)",
                path.display(),
                held.join(", ")
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = sources;
        None
    }
}

async fn probe(config: &Config, problems: &mut Vec<String>, notes: &mut Vec<String>) {
    let database = redact(&config.database_url);
    match timed(db::inspect(&config.database_url)).await {
        Err(e) => problems.push(format!("cannot open the database at {database}: {e}")),
        Ok(Found::NotYet) => notes.push(format!(
            "the SQLite database {database} does not exist yet: the first start creates it"
        )),
        Ok(Found::Schema {
            pending,
            newer,
            altered,
            failed,
        }) => {
            if !altered.is_empty() {
                problems.push(format!(
                    "the database at {database} applied migrations {altered:?} from other SQL \
                     than this build carries (edited after they shipped?): it would refuse to start"
                ));
            }
            if !failed.is_empty() {
                problems.push(format!(
                    "migrations {failed:?} failed part-way on the database at {database}: it \
                     would refuse to start; restore a backup, or repair it by hand and delete \
                     their rows from _sqlx_migrations"
                ));
            }
            if !newer.is_empty() {
                problems.push(format!(
                    "the database at {database} was migrated by a newer Latchkey \
                     (migrations {newer:?} are unknown to this build): it would refuse to \
                     start; run the newer build or restore a backup"
                ));
            }
            if !pending.is_empty() {
                notes.push(format!(
                    "the first start applies {} migration(s) to {database}: {}",
                    pending.len(),
                    pending.join(", ")
                ));
            }
        }
    }

    if let Some(url) = &config.redis_url {
        let reached = timed(async {
            let store = RedisStore::connect(url, &config.redis_prefix)
                .await
                .map_err(|e| e.to_string())?;
            store.ping().await.map_err(|e| e.to_string())
        })
        .await;
        if let Err(e) = reached {
            problems.push(format!("cannot reach Redis at {}: {e}", redact(url)));
        }
    }

    if let Some(url) = &config.smtp_url {
        let reached = timed(async { Transport::from_url(Some(url))?.check().await }).await;
        if let Err(e) = reached {
            problems.push(format!(
                "cannot reach the SMTP server at {}: {e}",
                redact(url)
            ));
        }
    }

    match config.leptos_options() {
        Err(e) => problems.push(e),
        Ok(options) => {
            if let Err(e) = crate::assets::check_site(&options) {
                problems.push(e);
            }
        }
    }

    let addresses = std::iter::once(("LEPTOS_SITE_ADDR", config.bind))
        .chain(config.metrics_bind.map(|a| ("METRICS_ADDR", a)));
    for (key, addr) in addresses {
        listenable(key, addr, problems, notes).await;
    }
}

/// Whether the server could listen on `addr`. Taken is only a note: the
/// instance being checked may be running.
async fn listenable(
    key: &str,
    addr: SocketAddr,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => notes.push(format!(
            "something already listens on {addr} ({key}): a running Latchkey?"
        )),
        Err(e) => problems.push(format!("cannot listen on {addr} ({key}): {e}")),
    }
}

async fn timed<T, E: ToString>(probe: impl Future<Output = Result<T, E>>) -> Result<T, String> {
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer in {} s", PROBE_TIMEOUT.as_secs())),
    }
}
