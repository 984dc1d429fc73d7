//! Mail: messages go into the `outbox` table and a background worker sends
//! them over SMTP (lettre) or prints them to the log, retrying with backoff.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::FromRow;
use tokio::sync::watch;

use crate::db::StoreError;
use crate::error::Error;
use crate::overview_model::OVERVIEW_DAYS;
use crate::{now, Services};

/// How long a worker's claim on a mail lasts.
const CLAIM_SECS: i64 = 30;

/// How long a mail that ended (sent or given up) is kept: the admin
/// overview counts the last [`OVERVIEW_DAYS`] days of them (and keeps
/// the counts of closed days, so none may go inside that window); older
/// rows only grow the table. Their bodies are already blank.
pub const KEEP: Duration = Duration::from_secs((OVERVIEW_DAYS as u64 + 5) * 24 * 3600);

/// How often the worker prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A message ready to queue: every mail has a text and an HTML part.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development: print each message to the log.
    Log,
}

impl Transport {
    /// `SMTP_URL` as lettre reads it: `smtp://host:port` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS). None prints mail to the log.
    pub fn from_url(url: Option<&str>) -> Result<Self, String> {
        match url {
            None => Ok(Self::Log),
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| Self::Smtp(b.timeout(Some(Duration::from_secs(10))).build()))
                .map_err(|e| format!("SMTP_URL is not a valid SMTP URL: {e}")),
        }
    }

    /// Connects to the SMTP server, greets it and logs in when the URL
    /// carries credentials, sending nothing (`check-config`).
    pub async fn check(&self) -> Result<(), String> {
        match self {
            Self::Log => Ok(()),
            Self::Smtp(smtp) => match smtp.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the SMTP server did not answer NOOP".into()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    async fn send(&self, from: &Mailbox, row: &OutboxRow) -> Result<(), String> {
        match self {
            Self::Log => {
                tracing::info!(
                    to = %row.recipient,
                    subject = %row.subject,
                    "mail (SMTP_URL unset, printed instead of sent):\n{}",
                    row.body_text
                );
                Ok(())
            }
            Self::Smtp(smtp) => {
                let to: Mailbox = row
                    .recipient
                    .parse()
                    .map_err(|e| format!("bad recipient: {e}"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&row.subject)
                    .multipart(MultiPart::alternative_plain_html(
                        row.body_text.clone(),
                        row.body_html.clone(),
                    ))
                    .map_err(|e| e.to_string())?;
                smtp.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

#[derive(FromRow)]
struct OutboxRow {
    id: String,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    attempts: i64,
    created_at: i64,
}

impl Services {
    /// Queues a mail and wakes the worker.
    pub(crate) async fn enqueue_mail(&self, email: Email) -> Result<(), Error> {
        enqueue_in(&self.db.pool, &email).await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Queues `email` inside `tx`, so it is sent if and only if the change
    /// that wrote it commits (call [`Services::wake_mail`] after the commit).
    pub(crate) async fn enqueue_mail_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        email: &Email,
    ) -> Result<(), Error> {
        enqueue_in(&mut **tx, email).await?;
        Ok(())
    }

    /// Tells the outbox worker that mail is waiting.
    pub(crate) fn wake_mail(&self) {
        self.mail_wake.notify_one();
    }

    /// Claims and sends due mail; returns how many were sent.
    async fn send_due(&self, transport: &Transport, from: &Mailbox) -> Result<usize, StoreError> {
        let now = now();
        let due: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, recipient, subject, body_text, body_html, attempts, created_at FROM outbox \
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until < $1) \
             ORDER BY created_at LIMIT 20",
        )
        .bind(now)
        .fetch_all(&self.db.pool)
        .await?;
        let mut sent = 0;
        for row in due {
            // Claim it: another instance may be looking at the same row. The
            // claim lapses (a sent mail the database could not mark is sent
            // again: at least once), well after the 10 s SMTP timeout.
            let claimed = sqlx::query(
                "UPDATE outbox SET locked_until = $1 WHERE id = $2 AND sent_at IS NULL \
                 AND failed_at IS NULL AND (locked_until IS NULL OR locked_until < $3)",
            )
            .bind(now + CLAIM_SECS)
            .bind(&row.id)
            .bind(now)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
            if claimed != 1 {
                continue;
            }
            match transport.send(from, &row).await {
                Ok(()) => {
                    sqlx::query(
                        "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, locked_until = NULL, \
                         subject = '', body_text = '', body_html = '', last_error = NULL WHERE id = $2",
                    )
                    .bind(crate::now())
                    .bind(&row.id)
                    .execute(&self.db.pool)
                    .await?;
                    sent += 1;
                }
                Err(error)
                    if now - row.created_at >= self.config.mail_give_up_after.as_secs() as i64 =>
                {
                    self.give_up(&row, &error).await?;
                }
                Err(error) => {
                    let attempts = row.attempts + 1;
                    let backoff = 2i64.saturating_pow(attempts.min(9) as u32).min(300);
                    tracing::warn!(%error, attempts, retry_in_secs = backoff, "outbox: send failed");
                    sqlx::query(
                        "UPDATE outbox SET attempts = $1, next_attempt_at = $2, locked_until = NULL, \
                         last_error = $3 WHERE id = $4",
                    )
                    .bind(attempts)
                    .bind(crate::now() + backoff)
                    .bind(error.chars().take(500).collect::<String>())
                    .bind(&row.id)
                    .execute(&self.db.pool)
                    .await?;
                }
            }
        }
        Ok(sent)
    }

    /// Marks a mail failed for good: counted, logged for the admins, and
    /// its subject and bodies (codes, links) blanked.
    async fn give_up(&self, row: &OutboxRow, error: &str) -> Result<(), StoreError> {
        tracing::warn!(%error, attempts = row.attempts + 1, "outbox: giving up on a mail");
        metrics::counter!("latchkey_mail_failed_total").increment(1);
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE outbox SET failed_at = $1, attempts = attempts + 1, locked_until = NULL, \
             subject = '', body_text = '', body_html = '', last_error = $2 WHERE id = $3",
        )
        .bind(crate::now())
        .bind(error.chars().take(500).collect::<String>())
        .bind(&row.id)
        .execute(&mut *tx)
        .await?;
        let worker = crate::ClientInfo::default();
        let event = crate::audit::Event::new(crate::model::EventKind::MailFailed, &worker)
            .detail(row.recipient.clone());
        self.record_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl crate::Outbox<'_> {
    /// Mails not yet sent.
    pub async fn outbox_depth(&self) -> Result<i64, Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        .fetch_one(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(n)
    }

    /// Drops mails that ended (sent or given up) before [`KEEP`]; returns
    /// how many. In batches along an index, each its own short write: the
    /// first prune of a long-lived table must not hold SQLite's one write
    /// lock past the time a sign-in waits for it.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        const BATCH: u64 = 1000;
        let before = now() - KEEP.as_secs() as i64;
        let mut dropped = 0;
        for ended in ["sent_at", "failed_at"] {
            loop {
                let batch = sqlx::query(&format!(
                    "DELETE FROM outbox WHERE id IN \
                     (SELECT id FROM outbox WHERE {ended} < $1 LIMIT {BATCH})"
                ))
                .bind(before)
                .execute(&self.db.pool)
                .await?
                .rows_affected();
                dropped += batch;
                if batch < BATCH {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(dropped)
    }

    /// Sends what is due until `shutdown` flips; finishes the mail in hand
    /// before returning. Prunes the ended mail every hour.
    pub async fn run_outbox(&self, transport: Transport, mut shutdown: watch::Receiver<bool>) {
        let from: Mailbox = match self.config.mail_from.parse() {
            Ok(from) => from,
            Err(e) => {
                tracing::error!("MAIL_FROM is not a valid address ({e}); mail is not sent");
                return;
            }
        };
        // None: not yet (an Instant in the past could be before boot).
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                if let Err(e) = self.prune().await {
                    tracing::warn!(error = %e, "outbox: could not prune ended mail");
                }
                pruned_at = Some(std::time::Instant::now());
            }
            match self.send_due(&transport, &from).await {
                Ok(sent) if sent > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: could not read due mail"),
            }
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = self.mail_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

pub(crate) async fn enqueue_in<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    email: &Email,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (id, recipient, subject, body_text, body_html, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&email.to)
    .bind(&email.subject)
    .bind(&email.text)
    .bind(&email.html)
    .bind(now())
    .execute(db)
    .await?;
    Ok(())
}
