//! The machine's real Redis, then its real PostgreSQL, stopped and started
//! again under load (with the commands this machine starts them with),
//! while the real binary serves sign-ups, log-ins, `/me` and `/readyz`:
//! `/readyz` says 503 while a store is down, requests that need it answer
//! 503 or wait for it, never a 500 or a dropped connection; recovery with no
//! restart; no account half-made; every queued mail delivered.
//!
//! This binary holds one test on purpose: cargo runs test binaries one at a
//! time, so no other test sees the services go away.

#[path = "it/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::try_over_tcp;
use common::process::ServerProcess;
use common::{smtp, Backend, PASSWORD};
use serde_json::json;
use sqlx::Connection;

const REDIS_START: &str = "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
    --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log";

fn sh(script: &str) -> bool {
    Command::new("sh")
        .args(["-c", script])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn postgres(action: &str) -> bool {
    sh(&format!(
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main {action}"
    ))
}

fn redis_up() -> bool {
    sh("redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG")
}

/// Starts whatever this test stopped, even when it fails half-way.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        if !redis_up() {
            sh(REDIS_START);
        }
        postgres("start");
    }
}

/// Whether the test can stop and start this machine's services at all; a
/// machine that cannot fails the test (nothing is skipped).
fn check_machine() {
    for tool in ["pg_ctlcluster", "redis-cli", "redis-server"] {
        assert!(
            sh(&format!("command -v {tool} >/dev/null")),
            "`{tool}` is missing: this test restarts the machine's own PostgreSQL \
             and Redis (see the env's machine page for their start commands)"
        );
    }
    assert!(redis_up(), "{}", common::REDIS_HINT);
}

#[derive(Default)]
struct Seen {
    /// status → count, per kind of request.
    statuses: BTreeMap<(&'static str, u16), u32>,
    /// Transport failures: the server must never drop a request.
    failures: Vec<String>,
    /// Sign-ups and what they were answered.
    signups: Vec<(String, u16)>,
}

async fn wait_ready(port: u16, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok((200, _)) = try_over_tcp(port, "GET", "/readyz", None, None).await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not ready 60 s after {what} came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_redis_and_postgres_gives_503s_then_recovers_with_nothing_lost() {
    check_machine();
    let _restore = Restore;
    let database_url = common::fresh_db_url(Backend::Postgres).await;
    let (smtp_port, inbox) = smtp::start().await;
    let server = ServerProcess::start(&[
        ("DATABASE_URL", database_url.clone()),
        ("REDIS_URL", "redis://127.0.0.1:6379".into()),
        ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
    ])
    .await;
    let port = server.port;

    // One account for log-ins and /me.
    let name = common::unique_name();
    let (status, tokens) = try_over_tcp(
        port,
        "POST",
        "/api/v1/auth/signup",
        None,
        Some(
            json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // Load, until told to stop: sign-ups, log-ins and /me, each in a loop of
    // its own, so a request waiting on a dead store holds up no other kind.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = ["signup", "login", "me", "ready"]
        .into_iter()
        .map(|kind| {
            let (seen, stop, access, name) =
                (seen.clone(), stop.clone(), access.clone(), name.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let email = format!("{}@example.com", common::unique_name());
                    let username = email.split('@').next().unwrap().to_owned();
                    let result = match kind {
                        "signup" => {
                            let body =
                                json!({"email": email, "username": username, "password": PASSWORD});
                            try_over_tcp(port, "POST", "/api/v1/auth/signup", None, Some(body))
                                .await
                        }
                        "login" => {
                            let body = json!({"login": name, "password": PASSWORD});
                            try_over_tcp(port, "POST", "/api/v1/auth/login", None, Some(body)).await
                        }
                        "me" => try_over_tcp(port, "GET", "/api/v1/me", Some(&access), None).await,
                        _ => try_over_tcp(port, "GET", "/readyz", None, None).await,
                    };
                    {
                        let mut seen = seen.lock().unwrap();
                        match result {
                            Ok((status, _)) => {
                                *seen.statuses.entry((kind, status)).or_default() += 1;
                                if kind == "signup" {
                                    seen.signups.push((email, status));
                                }
                            }
                            Err(e) => seen.failures.push(format!("{kind}: {e}")),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sh(
        "redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true"
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(sh(REDIS_START), "Redis did not start again");
    let redis_recovery = wait_ready(port, "Redis").await;
    // Requests sent while it was down finish (as 503s) within the stores'
    // timeouts; count them once they have.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during_redis = seen.lock().unwrap().statuses.clone();

    assert!(postgres("stop"), "PostgreSQL did not stop");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(postgres("start"), "PostgreSQL did not start again");
    let postgres_recovery = wait_ready(port, "PostgreSQL").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during_postgres = seen.lock().unwrap().statuses.clone();
    stop.store(true, Ordering::Relaxed);
    for load in loads {
        load.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    println!(
        "statuses: {:?}\nready again {redis_recovery:?} after Redis, {postgres_recovery:?} after PostgreSQL",
        seen.statuses
    );
    assert!(
        seen.failures.is_empty(),
        "dropped requests: {:?}",
        seen.failures
    );
    for ((kind, status), count) in &seen.statuses {
        let expected: &[u16] = match *kind {
            "signup" => &[201, 503],
            _ => &[200, 503],
        };
        assert!(
            expected.contains(status),
            "{count} × {kind} answered {status}\n{}",
            server.output()
        );
    }
    // Each outage was seen as such: log-ins need Redis (throttling) and
    // PostgreSQL, so some got 503s in each phase.
    let count = |s: &BTreeMap<(&str, u16), u32>, key| s.get(&key).copied().unwrap_or(0);
    assert!(count(&during_redis, ("ready", 503)) > 0, "{during_redis:?}");
    assert!(
        count(&during_postgres, ("ready", 503)) > count(&during_redis, ("ready", 503)),
        "{during_postgres:?}"
    );
    // Requests that need PostgreSQL said so; the ones that needed only
    // Redis waited out its short outage (the client reconnects) and passed.
    let needs_db_503 = |s: &BTreeMap<(&str, u16), u32>| {
        count(s, ("me", 503)) + count(s, ("login", 503)) + count(s, ("signup", 503))
    };
    assert!(
        needs_db_503(&during_postgres) > needs_db_503(&during_redis),
        "{during_postgres:?}"
    );
    assert!(seen.statuses.get(&("signup", 201)).copied().unwrap_or(0) > 5);

    // Nothing half-made: every sign-up either made an account that works,
    // or made nothing, so trying again simply succeeds.
    for (email, status) in &seen.signups {
        let (login, _) = try_over_tcp(
            port,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"login": email, "password": PASSWORD})),
        )
        .await
        .unwrap();
        match status {
            201 => assert_eq!(login, 200, "{email} was created but cannot log in"),
            _ if login == 200 => {} // committed just as the connection died
            _ => {
                let username = email.split('@').next().unwrap();
                let (again, body) = try_over_tcp(
                    port,
                    "POST",
                    "/api/v1/auth/signup",
                    None,
                    Some(json!({"email": email, "username": username, "password": PASSWORD})),
                )
                .await
                .unwrap();
                assert_eq!(
                    again, 201,
                    "{email}: a refused sign-up left something behind: {body}"
                );
            }
        }
    }

    // Every mail queued is delivered, the ones queued around the outages too
    // (a mail sent as PostgreSQL went away is sent again when its 30 s
    // claim lapses: at least once).
    let mut db = sqlx::PgConnection::connect(&database_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (pending,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
                .fetch_one(&mut db)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} mails still unsent after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(queued > 5);
    assert!(
        inbox.all().len() as i64 >= queued,
        "{} delivered of {queued} queued",
        inbox.all().len()
    );
    assert!(!server.output().contains("panicked"), "{}", server.output());
}
