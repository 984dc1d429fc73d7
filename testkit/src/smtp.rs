//! A real SMTP server on loopback that keeps what it receives: the app's
//! lettre transport talks the full protocol to it over TCP.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Default)]
pub struct Inbox {
    messages: Arc<Mutex<Vec<String>>>,
}

impl Inbox {
    pub fn all(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits up to `secs` for a message to `to`.
    pub async fn wait_for(&self, to: &str, secs: u64) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(m) = self
                .all()
                .into_iter()
                .rev()
                .find(|m| m.contains(&format!("To: {to}")))
            {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail to {to} within {secs} s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Inbox {
    /// The newest mail to `to` whose subject contains `subject`, waiting up
    /// to 10 s for it.
    pub async fn wait_for_subject(&self, to: &str, subject: &str) -> String {
        self.wait_for_subject_since(to, subject, 0).await
    }

    /// `wait_for_subject`, among the mails after the first `since` (take
    /// `all().len()` before the action that sends it).
    pub async fn wait_for_subject_since(&self, to: &str, subject: &str, since: usize) -> String {
        for _ in 0..200 {
            if let Some(m) = self.all().into_iter().skip(since).rev().find(|m| {
                m.contains(&format!("To: {to}"))
                    && m.lines()
                        .any(|l| l.starts_with("Subject: ") && l.contains(subject))
            }) {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} with {subject:?} in 10 s");
    }
}

/// The six-digit code in a code mail's subject.
pub fn code_in(message: &str) -> String {
    let subject = message
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .expect("a Subject header");
    subject[..6].to_owned()
}

/// Serves SMTP on `listener` until the test ends.
pub fn serve(listener: TcpListener) -> Inbox {
    let inbox = Inbox::default();
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, kept.clone()));
        }
    });
    inbox
}

pub async fn start() -> (u16, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, serve(listener))
}

async fn session(stream: TcpStream, inbox: Inbox) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
            "DATA" => {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut message = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    message.push_str(l.strip_prefix('.').unwrap_or(&l));
                    message.push('\n');
                }
                inbox.messages.lock().unwrap().push(message);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The token of the reset link in a mail.
pub fn reset_token_in(message: &str) -> String {
    token_in(message, "/reset?token=")
}

/// The token of the "this wasn't me" link in an email-change notice.
pub fn revert_token_in(message: &str) -> String {
    token_in(message, "/email/revert?token=")
}

/// The token after `prefix` in a mail, undoing quoted-printable line
/// breaks and `=3D` escapes if the transport used them.
fn token_in(message: &str, prefix: &str) -> String {
    let unfolded = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = unfolded.find(prefix).expect("a link") + prefix.len();
    unfolded[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
