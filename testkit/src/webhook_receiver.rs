//! A product's webhook receiver (`webhook_receiver.py`), verifying every
//! delivery with the PyPI `standardwebhooks` package, run for a test.

use std::path::PathBuf;
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A delivery the receiver verified.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    pub timestamp: String,
    pub signatures: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// The payload's `type`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    /// The account it is about.
    pub fn user_id(&self) -> Option<String> {
        self.json()["data"]["user"]["id"]
            .as_str()
            .map(str::to_owned)
    }
}

pub struct Receiver {
    child: Child,
    pub port: u16,
    secrets: Vec<String>,
    http: reqwest::Client,
}

/// The Python with `standardwebhooks` (scripts/tools.sh --browser puts it
/// in the relying-party venv and exports its path).
fn python() -> PathBuf {
    let python = std::env::var_os("LATCHKEY_RP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/latchkey/tools/rp-venv/bin/python")
        });
    let ok = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        ok,
        "the webhook tests need Python with `standardwebhooks` at {} (LATCHKEY_RP_PYTHON): \
         run `source scripts/tools.sh --browser`",
        python.display()
    );
    python
}

impl Receiver {
    /// A receiver on a free port that accepts what `secrets` signed.
    pub async fn start(secrets: &[&str]) -> Self {
        Self::start_on(0, secrets.iter().map(|s| s.to_string()).collect()).await
    }

    async fn start_on(port: u16, secrets: Vec<String>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/webhook_receiver.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .args(&secrets)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the webhook receiver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the receiver starts within 20 s")
            .unwrap()
            .expect("the receiver says where it listens");
        let port = line
            .strip_prefix("listening on ")
            .and_then(|p| p.trim().parse().ok())
            .expect("listening on PORT");
        Self {
            child,
            port,
            secrets,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/latchkey", self.port)
    }

    /// Stops it (connections are refused) until [`Receiver::restart`].
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The receiver back up on the same port, with nothing received yet.
    pub async fn restart(&mut self) {
        let _ = self.child.kill().await;
        // The port may take a moment to be free again.
        for _ in 0..50 {
            let next = Self::start_on_checked(self.port, self.secrets.clone()).await;
            if let Some(next) = next {
                *self = next;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the receiver could not listen on port {} again", self.port);
    }

    async fn start_on_checked(port: u16, secrets: Vec<String>) -> Option<Self> {
        std::net::TcpListener::bind(("127.0.0.1", port)).ok()?;
        Some(Self::start_on(port, secrets).await)
    }

    /// How later deliveries are answered: `ok`, `fail` (500) or
    /// `redirect` (302).
    pub async fn set_mode(&self, mode: &str) {
        self.http
            .post(format!("http://127.0.0.1:{}/mode", self.port))
            .body(mode.to_owned())
            .send()
            .await
            .expect("the receiver answers");
    }

    /// What it verified and kept, in arrival order.
    pub async fn received(&self) -> Vec<Received> {
        self.http
            .get(format!("http://127.0.0.1:{}/received", self.port))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("a list")
    }

    /// How many posts failed verification.
    pub async fn rejected(&self) -> u64 {
        let text = self
            .http
            .get(format!("http://127.0.0.1:{}/rejected", self.port))
            .send()
            .await
            .expect("the receiver answers")
            .text()
            .await
            .unwrap();
        text.trim().parse().unwrap()
    }

    /// Waits until `done` holds for what it received (at most `secs`).
    pub async fn wait_for(&self, secs: u64, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received().await;
            if done(&got) {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver did not get what was expected in {secs} s; it has {} deliveries: {:#?}",
                got.len(),
                got.iter().map(|r| r.kind()).collect::<Vec<_>>()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Posts `body` with `headers` to the receiver as an attacker would
    /// (a copied delivery, altered): its answer's status.
    pub async fn post_raw(&self, headers: &[(&str, &str)], body: &str) -> u16 {
        let mut request = self.http.post(self.url()).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .send()
            .await
            .expect("the receiver answers")
            .status()
            .as_u16()
    }
}
