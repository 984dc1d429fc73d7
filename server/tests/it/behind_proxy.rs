//! Latchkey behind a real nginx and a real Caddy, each configured with the
//! very file docs/deploy.md shows (`deploy/nginx.conf`, `deploy/Caddyfile`):
//! clients are told apart by the address the proxy forwards, and a forged
//! `X-Forwarded-For` gains nothing, through the proxy or straight at the
//! app's port. Clients use distinct loopback addresses (127.0.0.2,
//! 127.0.0.3, …) as their source, so the proxy and the app see real,
//! different peers.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use common::process::ServerProcess;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NGINX: &str = "/usr/sbin/nginx";
const CADDY: &str = "/usr/bin/caddy";

#[derive(Debug, Clone, Copy)]
enum Kind {
    Nginx,
    Caddy,
}

/// A proxy on a free loopback port, in front of `app_port`; stopped on drop.
struct Proxy {
    child: tokio::process::Child,
    port: u16,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn deploy_file(name: &str) -> String {
    let path = format!("{}/../deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl Proxy {
    async fn start(kind: Kind, app_port: u16) -> Self {
        let (program, package) = match kind {
            Kind::Nginx => (NGINX, "nginx-light"),
            Kind::Caddy => (CADDY, "caddy"),
        };
        assert!(
            std::path::Path::new(program).exists(),
            "{program} is not installed: scripts/tools.sh --browser installs it (apt-get install {package})"
        );
        let dir = std::env::temp_dir().join(format!("lk-proxy-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut command = match kind {
            Kind::Nginx => nginx(&dir, port, app_port),
            Kind::Caddy => caddy(&dir, port, app_port),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("stderr.log")).unwrap(),
            ))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let proxy = Self {
            child,
            port,
            _dir: TempDir(dir),
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return proxy;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = |name: &str| std::fs::read_to_string(proxy._dir.0.join(name)).unwrap_or_default();
        panic!(
            "{program} did not start: {}{}",
            log("stderr.log"),
            log("error.log")
        );
    }
}

/// nginx with `deploy/nginx.conf` as its one server's location.
fn nginx(dir: &std::path::Path, port: u16, app_port: u16) -> tokio::process::Command {
    let location =
        deploy_file("nginx.conf").replace("127.0.0.1:3000", &format!("127.0.0.1:{app_port}"));
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 {location}\n\
               }}\n\
             }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut command = tokio::process::Command::new(NGINX);
    command
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off; user root;"]);
    command
}

/// Caddy with `deploy/Caddyfile`, its site address made plain HTTP on a
/// loopback port (the test has no certificate), its admin API and state
/// kept out of the way.
fn caddy(dir: &std::path::Path, port: u16, app_port: u16) -> tokio::process::Command {
    let site = deploy_file("Caddyfile")
        .replace("auth.example.com", &format!("http://127.0.0.1:{port}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{app_port}"));
    let conf = format!("{{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}}\n{site}");
    std::fs::write(dir.join("Caddyfile"), conf).unwrap();
    let mut command = tokio::process::Command::new(CADDY);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.join("Caddyfile"))
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    command
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One JSON exchange from the loopback address `from` to `port`.
async fn call(
    from: Ipv4Addr,
    port: u16,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    let mut stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("an answer within 10 s")
    .unwrap();
    common::http::parse_response(&response).unwrap()
}

const CLIENT_A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const CLIENT_B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A failed log-in with a name nobody has (so only the address's budget
/// is spent).
async fn bad_login(from: Ipv4Addr, port: u16, headers: &[(&str, &str)]) -> u16 {
    let name = common::unique_name();
    let body = json!({ "login": name, "password": "not the password" });
    call(
        from,
        port,
        "POST",
        "/api/v1/auth/login",
        headers,
        Some(body),
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_behind_nginx_are_told_apart_and_forgery_gains_nothing() {
    clients_are_told_apart_and_forgery_gains_nothing(Kind::Nginx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_behind_caddy_are_told_apart_and_forgery_gains_nothing() {
    clients_are_told_apart_and_forgery_gains_nothing(Kind::Caddy).await;
}

async fn clients_are_told_apart_and_forgery_gains_nothing(kind: Kind) {
    let db = common::fresh_db_url(common::Backend::Sqlite).await;
    let app = ServerProcess::start(&[
        ("DATABASE_URL", db),
        ("TRUSTED_PROXIES", "127.0.0.1".into()),
        ("LOGIN_FREE_ATTEMPTS_PER_IP", "3".into()),
    ])
    .await;
    let proxy = Proxy::start(kind, app.port).await;

    // B signs up through the proxy: its session and its log carry B's address.
    let name = common::unique_name();
    let signup = json!({ "email": format!("{name}@example.com"), "username": name, "password": common::PASSWORD });
    let (status, tokens) = call(
        CLIENT_B,
        proxy.port,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(signup),
    )
    .await;
    assert_eq!(status, 201, "{tokens}");
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let auth = [("Authorization", bearer.as_str())];
    let (_, activity) = call(
        CLIENT_B,
        proxy.port,
        "GET",
        "/api/v1/me/activity",
        &auth,
        None,
    )
    .await;
    assert_eq!(activity["events"][0]["ip"], "127.0.0.3", "{activity}");
    let (_, sessions) = call(
        CLIENT_B,
        proxy.port,
        "GET",
        "/api/v1/me/sessions",
        &auth,
        None,
    )
    .await;
    assert!(sessions.to_string().contains("127.0.0.3"), "{sessions}");

    // A spends its address's budget through the proxy, forging a different
    // address on the left of X-Forwarded-For each time; the waits grow
    // until one outlasts the checks below.
    let forged = [("X-Forwarded-For", "198.51.100.77")];
    let mut waited = 0;
    loop {
        match bad_login(CLIENT_A, proxy.port, &forged).await {
            401 => {}
            429 => {
                waited += 1;
                if waited == 4 {
                    break;
                }
                // Let the wait run out, so the next attempt counts and
                // doubles it.
                tokio::time::sleep(Duration::from_millis(1100 << (waited - 1))).await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        bad_login(CLIENT_A, proxy.port, &forged).await,
        429,
        "A waits"
    );
    // B, through the same proxy, has a budget of its own.
    assert_eq!(
        bad_login(CLIENT_B, proxy.port, &[]).await,
        401,
        "B is not throttled by A"
    );
    // Straight at the app's port, a forged header is ignored: the peer is
    // A, whatever it claims.
    let as_b = [("X-Forwarded-For", "127.0.0.3")];
    assert_eq!(
        bad_login(CLIENT_A, app.port, &as_b).await,
        429,
        "A is still A"
    );
    // …and B's budget was not touched by it.
    assert_eq!(bad_login(CLIENT_B, proxy.port, &[]).await, 401);
}
