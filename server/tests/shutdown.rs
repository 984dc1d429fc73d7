//! The real binary's process-level behaviour: graceful shutdown (on
//! SIGTERM it stops taking new connections, finishes the request in flight,
//! stops the outbox worker and exits cleanly), and bounded work under a
//! flood of clients that hang up.

#[path = "it/common/mod.rs"]
mod common;

use std::time::Duration;

use common::process::ServerProcess;
use common::{smtp, Backend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let (smtp_port, _inbox) = smtp::start().await;
    let mut server = ServerProcess::start(&[
        ("DATABASE_URL", common::fresh_db_url(Backend::Sqlite).await),
        ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
    ])
    .await;

    // A client in the middle of sending its request when the signal comes.
    let body = r#"{"login":"nobody","password":"not a password"}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No new connections once shutting down.
    assert!(
        common::http::try_over_tcp(server.port, "GET", "/healthz", None, None)
            .await
            .is_err(),
        "a new connection was served after SIGTERM"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "still finishing"
    );

    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the request in flight got its answer: {response}"
    );
    assert!(response.contains("invalid_credentials"));

    let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("exits within 10 s")
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", server.output());
    assert!(
        server.output().contains("shut down cleanly"),
        "{}",
        server.output()
    );
}

/// 5,000 sign-ups whose clients hang up at once: the hash queue is bounded
/// (the excess is refused before any work) and the jobs of clients that
/// have gone are dropped unhashed, so log-in answers within seconds of the
/// flood and the hash queue empties.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_abandoned_sign_ups_leaves_log_in_answering() {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = ServerProcess::start(&[
        ("DATABASE_URL", common::fresh_db_url(Backend::Sqlite).await),
        ("METRICS_ADDR", format!("127.0.0.1:{metrics_port}")),
        ("RUST_LOG", "warn".into()),
    ])
    .await;
    let port = server.port;
    let name = common::unique_name();
    let signup = serde_json::json!({
        "email": format!("{name}@example.com"), "username": name, "password": common::PASSWORD,
    });
    let (status, _) =
        common::http::over_tcp(port, "POST", "/api/v1/auth/signup", None, Some(signup)).await;
    assert_eq!(status, 201);

    let flood_started = std::time::Instant::now();
    for batch in 0..10 {
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..500 {
            clients.spawn(async move {
                let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                else {
                    return;
                };
                let body = format!(
                    r#"{{"email":"f{batch}x{i}@example.com","username":"flood{batch}x{i}","password":"flood passphrase {batch} {i}"}}"#
                );
                let request = format!(
                    "POST /api/v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(request.as_bytes()).await;
                // Hang up without reading the answer.
            });
        }
        while clients.join_next().await.is_some() {}
    }
    let flood = flood_started.elapsed();

    let started = std::time::Instant::now();
    let login = serde_json::json!({ "login": name, "password": common::PASSWORD });
    let (status, body) =
        common::http::over_tcp(port, "POST", "/api/v1/auth/login", None, Some(login)).await;
    let answered_in = started.elapsed();
    assert_eq!(
        status,
        200,
        "log-in works after the flood (answered in {answered_in:?}): {body}\n{}",
        server.output()
    );
    assert!(
        answered_in < Duration::from_secs(5),
        "log-in answered {answered_in:?} after a {flood:?} flood"
    );

    let mut in_flight = String::new();
    for _ in 0..100 {
        let text = metrics_text(metrics_port).await;
        in_flight = text
            .lines()
            .find(|l| l.starts_with("latchkey_hash_jobs_in_flight"))
            .unwrap_or_default()
            .to_owned();
        if in_flight.ends_with(" 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        in_flight.ends_with(" 0"),
        "the hash queue empties: {in_flight:?}"
    );
    println!(
        "flood of 5,000 abandoned sign-ups took {flood:?}; log-in then answered in {answered_in:?}"
    );
}

async fn metrics_text(port: u16) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the metrics listener answers");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}
