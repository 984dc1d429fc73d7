//! The real `server` binary, started on a free port with the given
//! environment, its output kept for the test to read.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    output: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the binary and waits (up to 30 s) until `/healthz` answers.
    ///
    /// The port is probed free, then released for the server to bind, so
    /// another socket (one of the server's own connections to PostgreSQL,
    /// say) can take it in between: the server then stops with "Address
    /// already in use", and it is started again on another port.
    pub async fn start(env: &[(&str, String)]) -> Self {
        let mut tries = 0;
        loop {
            let mut server = Self::spawn(env);
            if server.answers().await {
                return server;
            }
            tries += 1;
            let exited = matches!(server.child.try_wait(), Ok(Some(_)));
            let port_taken = server
                .output()
                .contains("Latchkey stopped: Address already in use");
            if !(exited && port_taken) || tries == 4 {
                panic!("the server did not start:\n{}", server.output());
            }
        }
    }

    fn spawn(env: &[(&str, String)]) -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", std::env::temp_dir())
            .env(
                "LATCHKEY_SECRET",
                "process-test-secret-process-test-secret-0123",
            )
            .env("RUST_LOG", "info")
            // Several servers may run at once: each its own metrics port.
            .env("METRICS_ADDR", "127.0.0.1:0")
            // The load tests sign many accounts up from one address.
            .env("SIGNUPS_PER_HOUR_PER_IP", "1000000")
            .env_remove("REDIS_URL")
            .env_remove("SMTP_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the server binary");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Self {
            child,
            port,
            output,
        }
    }

    /// Whether `/healthz` answers within 30 s; false as soon as the process
    /// has exited.
    async fn answers(&mut self) -> bool {
        for _ in 0..300 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                // Let the readers take the last lines the process printed.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return false;
            }
            if let Ok((200, _)) =
                super::http::try_over_tcp(self.port, "GET", "/healthz", None, None).await
            {
                // Ours only if it still runs (not another test's server
                // that took the port).
                return matches!(self.child.try_wait(), Ok(None));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Everything the server printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as a supervisor stopping the service would.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
