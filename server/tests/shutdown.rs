//! Graceful shutdown of the real binary: on SIGTERM it stops taking new
//! connections, finishes the request in flight, stops the outbox worker and
//! exits cleanly.

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
