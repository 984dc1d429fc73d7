//! Webhooks: a product hears what happens to its users' accounts as signed
//! HTTP POSTs, in the Standard Webhooks scheme (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`: HMAC-SHA256).
//!
//! **Queued with the change.** An event a webhook reports is an entry of
//! the activity log; `Services::record_in` adds one delivery per endpoint
//! that wants it in the same transaction, so a delivery exists if and only
//! if the change committed. Each instance keeps the set of events some
//! enabled endpoint wants (`webhook_queue::Subscriptions`, read again every second and
//! at once after a change here), so an event nobody wants costs nothing.
//!
//! **Delivered at least once, in order per account.** A worker posts what
//! is due; an account's deliveries to one endpoint go one after the other
//! (a later one waits while an earlier one is retried). The `webhook-id`
//! is the log entry's id, the same on every attempt and to every endpoint,
//! so receivers can drop duplicates; the body is the same bytes each time.
//! A failure is retried with exponential backoff until
//! `webhook_give_up_after` (a day), then marked failed; an endpoint whose
//! every delivery failed for that long is turned off and the
//! administrators are mailed.
//!
//! **Never a way in.** Addresses must resolve to public IPs (checked on
//! every connection, so DNS cannot be re-pointed at the internal network
//! after registration) unless `WEBHOOK_ALLOW_PRIVATE` is set; redirects
//! are not followed and proxies from the environment are not used.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use sqlx::FromRow;
use tokio::sync::{watch, Semaphore};

use crate::admin::require_admin;
use crate::audit::Event;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{EventKind, EventReason};
use crate::webhook_model::{
    DeliveryPage, DeliveryStatus, Webhook, WebhookData, WebhookDelivery, WebhookEvent,
    WebhookPayload, WebhookSpec, WebhookUser, WebhookWithSecret, PAYLOAD_VERSION,
};
use crate::webhook_queue::bit;
use crate::{now, Auth, Services};

/// The most endpoints a deployment may register.
pub const MAX_ENDPOINTS: usize = 50;
const MAX_URL_LEN: usize = 2000;
const MAX_DESCRIPTION_LEN: usize = 200;
/// One attempt's limit; the claim on a delivery outlasts it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const CLAIM_SECS: i64 = 30;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Deliveries claimed in one pass.
const BATCH: usize = 50;
/// Attempts posting at once, across endpoints.
const IN_FLIGHT: usize = 64;
/// Deliveries in a page of the log.
const PAGE: usize = 50;
/// How long delivered and failed deliveries stay in the log.
pub const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the worker drops what is older than [`KEEP`].
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long the secret before a rotation keeps signing.
pub const SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// What a secret is sealed for (its owner is the endpoint).
const SECRET_SEAL: &str = "webhook-secret:";

/// The `events` column: space-separated with a space at each end, '' for
/// all of them.
fn events_column(events: &[WebhookEvent]) -> String {
    if events.is_empty() || WebhookEvent::ALL.iter().all(|e| events.contains(e)) {
        return String::new();
    }
    let names: Vec<&str> = WebhookEvent::ALL
        .iter()
        .filter(|e| events.contains(e))
        .map(|e| e.as_str())
        .collect();
    format!(" {} ", names.join(" "))
}

fn parse_events(column: &str) -> Vec<WebhookEvent> {
    column
        .split_whitespace()
        .filter_map(WebhookEvent::parse)
        .collect()
}

fn events_bits(column: &str) -> u32 {
    match column.trim() {
        "" => WebhookEvent::ALL.iter().fold(0, |bits, e| bits | bit(*e)),
        _ => parse_events(column)
            .into_iter()
            .fold(0, |bits, e| bits | bit(e)),
    }
}

/// A new secret: `whsec_` and 32 random bytes in base64, as Standard
/// Webhooks' verifiers take it.
fn new_secret() -> (String, Vec<u8>) {
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    (format!("whsec_{}", STANDARD.encode(&key)), key)
}

/// Whether `ip` is on the public internet: not loopback, private,
/// link-local (cloud metadata lives there), shared, documentation,
/// benchmarking, multicast or reserved, in either family (an IPv4 address
/// mapped or translated into IPv6 is judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let v4 = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                Ipv4Addr::new(a, b, c, d)
            };
            // NAT64 (64:ff9b::/96) and IPv4-translated (::ffff:0:0:0/96)
            // addresses carry an IPv4 address in their last 32 bits, 6to4
            // (2002::/16) in the 32 after the prefix.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0, 0, 0, 0, 0xffff, 0] {
                return is_public_v4(v4(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_v4(v4(s[1], s[2]));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64
                || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments
                || s[..5] == [0, 0, 0, 0, 0]) // IPv4-compatible and the like
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Checks an endpoint's address: absolute https (http too when private
/// addresses are allowed), no credentials or fragment, and, when its host
/// is an IP address, a public one. A name is checked when it is resolved.
fn check_url(raw: &str, allow_private: bool) -> Result<String, Error> {
    let bad = || Error::invalid("url", Reason::WebhookAddress);
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN {
        return Err(bad());
    }
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let scheme_ok = url.scheme() == "https" || (allow_private && url.scheme() == "http");
    if !scheme_ok
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    let refused = match url.host() {
        None => true,
        Some(url::Host::Ipv4(ip)) => !allow_private && !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !allow_private && !is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            !allow_private && (name == "localhost" || name.ends_with(".localhost"))
        }
    };
    if refused {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// An endpoint's address as logs, the activity log and mail show it: its
/// origin only, since the path or query often carries the receiver's own
/// token.
fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Resolves names for the webhook client, keeping only public addresses
/// (unless private ones are allowed): the check happens on the address
/// actually connected to.
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            // One answer whether the name does not exist or points inside:
            // the error an administrator sees must not map the network.
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map(|addrs| {
                    addrs
                        .filter(|addr| allow_private || is_public(addr.ip()))
                        .collect()
                })
                .unwrap_or_default();
            if found.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The client deliveries go out with.
fn client(allow_private: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Latchkey-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(PublicOnly { allow_private }))
        .build()
        .expect("a TLS client with the built-in roots")
}

#[derive(FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    description: String,
    events: String,
    enabled: i64,
    disabled_reason: Option<String>,
    previous_secret_until: Option<i64>,
    failing_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
    pending: i64,
    delivered_24h: i64,
    failed_24h: i64,
}

impl EndpointRow {
    fn to_webhook(&self) -> Webhook {
        Webhook {
            id: self.id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            events: parse_events(&self.events),
            enabled: self.enabled != 0,
            disabled_reason: self.disabled_reason.clone(),
            failing_since: self.failing_since,
            previous_secret_until: self.previous_secret_until.filter(|until| *until > now()),
            pending: self.pending,
            delivered_24h: self.delivered_24h,
            failed_24h: self.failed_24h,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// An endpoint with its counts ($1: a day ago).
const ENDPOINT: &str =
    "SELECT w.id, w.url, w.description, w.events, w.enabled, w.disabled_reason, \
     w.previous_secret_until, w.failing_since, w.created_at, w.updated_at, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id \
        AND d.delivered_at IS NULL AND d.failed_at IS NULL) AS pending, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id \
        AND d.created_at >= $1 AND d.delivered_at IS NOT NULL) AS delivered_24h, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id \
        AND d.created_at >= $1 AND d.failed_at IS NOT NULL) AS failed_24h \
     FROM webhook_endpoints w";

/// A delivery as its log shows it ([`DeliveryRow`]).
const DELIVERY: &str =
    "SELECT event_id, event_type, attempts, last_status, last_error, latency_ms, \
     next_attempt_at, delivered_at, failed_at, created_at FROM webhook_deliveries";

/// What endpoint `id`'s secrets are sealed for: a sealed secret moved to
/// another endpoint's row does not open.
fn seal_owner(id: &str) -> String {
    format!("{SECRET_SEAL}{id}")
}

fn not_found() -> Error {
    Error::of(ErrorCode::NotFound, Reason::NoSuchWebhook)
}

/// A checked spec: the address, description and `events` column.
struct Checked {
    url: String,
    description: String,
    events: String,
}

fn check(spec: &WebhookSpec, allow_private: bool) -> Result<Checked, Error> {
    let url = check_url(&spec.url, allow_private)?;
    let description = spec.description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION_LEN || description.contains(char::is_control) {
        return Err(Error::counted(
            ErrorCode::InvalidInput,
            Reason::WebhookDescription,
            MAX_DESCRIPTION_LEN as u64,
        )
        .on("description"));
    }
    Ok(Checked {
        url,
        description,
        events: events_column(&spec.events),
    })
}

impl Services {
    /// Reads which events some enabled endpoint wants; until then every
    /// event counts as wanted (so, for one, a log-in ends in a transaction
    /// that may queue its webhook, not in one trip). The server reads them
    /// before it serves; its webhook worker again every second.
    pub async fn read_webhook_subscriptions(&self) -> Result<(), Error> {
        Ok(self.refresh_subscriptions().await?)
    }

    /// Reads which events some enabled endpoint wants.
    pub(crate) async fn refresh_subscriptions(&self) -> Result<(), StoreError> {
        let ticket = self.subscriptions.begin();
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT events FROM webhook_endpoints WHERE enabled = 1")
                .fetch_all(&self.db.pool)
                .await?;
        let bits = rows
            .iter()
            .fold(0, |bits, (events,)| bits | events_bits(events));
        self.subscriptions.set(ticket, bits);
        Ok(())
    }

    async fn endpoint(&self, id: &str) -> Result<EndpointRow, Error> {
        sqlx::query_as(&format!("{ENDPOINT} WHERE w.id = $2"))
            .bind(now() - 86_400)
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(not_found)
    }
}

impl crate::Webhooks<'_> {
    /// Every endpoint, oldest first.
    pub async fn list(&self, admin: &Auth) -> Result<Vec<Webhook>, Error> {
        require_admin(admin)?;
        let rows: Vec<EndpointRow> =
            sqlx::query_as(&format!("{ENDPOINT} ORDER BY w.created_at, w.id"))
                .bind(now() - 86_400)
                .fetch_all(&self.db.pool)
                .await
                .map_err(StoreError::from)?;
        Ok(rows.iter().map(EndpointRow::to_webhook).collect())
    }

    pub async fn get(&self, admin: &Auth, id: &str) -> Result<Webhook, Error> {
        require_admin(admin)?;
        Ok(self.endpoint(id).await?.to_webhook())
    }

    /// Registers an endpoint; its secret is returned here and never again.
    pub async fn create(
        &self,
        admin: &Auth,
        spec: &WebhookSpec,
    ) -> Result<WebhookWithSecret, Error> {
        require_admin(admin)?;
        // Where events (and the accounts in them) go: an administrator's
        // second factor is asked for again, as for changes to users.
        self.require_fresh_second_factor(admin).await?;
        let checked = check(spec, self.config.webhook_allow_private)?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_endpoints")
            .fetch_one(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        if count as usize >= MAX_ENDPOINTS {
            return Err(Error::counted(
                ErrorCode::InvalidInput,
                Reason::TooManyWebhooks,
                MAX_ENDPOINTS as u64,
            ));
        }
        let id = format!("ep_{}", uuid::Uuid::new_v4().simple());
        let (secret, key) = new_secret();
        let now = now();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints \
             (id, url, description, events, enabled, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&checked.url)
        .bind(&checked.description)
        .bind(&checked.events)
        .bind(i64::from(spec.enabled))
        .bind(self.tokens.seal(&seal_owner(&id), &key))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        self.record_endpoint_in(&mut tx, admin, EventKind::WebhookAdded, &checked.url)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.refresh_subscriptions().await?;
        Ok(WebhookWithSecret {
            webhook: self.endpoint(&id).await?.to_webhook(),
            secret,
        })
    }

    /// Changes an endpoint's address, description, events or whether it
    /// is on. Turning it on clears a failure streak.
    pub async fn update(
        &self,
        admin: &Auth,
        id: &str,
        spec: &WebhookSpec,
    ) -> Result<Webhook, Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let checked = check(spec, self.config.webhook_allow_private)?;
        self.endpoint(id).await?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, enabled = $4, \
             disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END, \
             failing_since = CASE WHEN $4 = 1 AND enabled = 0 THEN NULL ELSE failing_since END, \
             last_delivered_at = CASE WHEN $4 = 1 AND enabled = 0 THEN $5 ELSE last_delivered_at END, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(&checked.url)
        .bind(&checked.description)
        .bind(&checked.events)
        .bind(i64::from(spec.enabled))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        self.record_endpoint_in(&mut tx, admin, EventKind::WebhookChanged, &checked.url)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.refresh_subscriptions().await?;
        self.wake_webhooks();
        Ok(self.endpoint(id).await?.to_webhook())
    }

    /// A new secret, returned once. The one it replaces keeps signing
    /// beside it for [`SECRET_OVERLAP`], so receivers can switch without
    /// refusing a delivery.
    pub async fn rotate_secret(&self, admin: &Auth, id: &str) -> Result<WebhookWithSecret, Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let current = self.endpoint(id).await?;
        let (secret, key) = new_secret();
        let now = now();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $1, \
             secret = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(now + SECRET_OVERLAP.as_secs() as i64)
        .bind(self.tokens.seal(&seal_owner(id), &key))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        self.record_endpoint_in(
            &mut tx,
            admin,
            EventKind::WebhookSecretRotated,
            &current.url,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(WebhookWithSecret {
            webhook: self.endpoint(id).await?.to_webhook(),
            secret,
        })
    }

    /// Deletes an endpoint with its deliveries.
    pub async fn delete(&self, admin: &Auth, id: &str) -> Result<(), Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let current = self.endpoint(id).await?;
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.record_endpoint_in(&mut tx, admin, EventKind::WebhookDeleted, &current.url)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        // A delivery queued while this ran (deliveries name their endpoint
        // without a foreign key) goes too.
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        self.refresh_subscriptions().await?;
        Ok(())
    }

    /// An endpoint's deliveries, newest first, older than `before` (a
    /// message id from the previous page).
    pub async fn deliveries(
        &self,
        admin: &Auth,
        id: &str,
        before: Option<&str>,
    ) -> Result<DeliveryPage, Error> {
        require_admin(admin)?;
        self.endpoint(id).await?;
        let before = before.and_then(|b| b.strip_prefix("msg_"));
        let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
            "{DELIVERY} WHERE endpoint_id = $1 AND ($2 = '' OR event_id < $2) \
             ORDER BY event_id DESC LIMIT {}",
            PAGE + 1
        ))
        .bind(id)
        .bind(before.unwrap_or_default())
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let more = rows.len() > PAGE;
        let deliveries: Vec<WebhookDelivery> = rows
            .into_iter()
            .take(PAGE)
            .filter_map(DeliveryRow::into_delivery)
            .collect();
        let next_before = more
            .then(|| deliveries.last().map(|d| d.message_id.clone()))
            .flatten();
        Ok(DeliveryPage {
            deliveries,
            next_before,
        })
    }

    /// Sends a delivery again (delivered or failed: it is pending once
    /// more, with the same `webhook-id`); one already pending is tried now.
    pub async fn send_again(
        &self,
        admin: &Auth,
        id: &str,
        message_id: &str,
    ) -> Result<WebhookDelivery, Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let event_id = message_id.strip_prefix("msg_").unwrap_or(message_id);
        let changed = sqlx::query(
            "UPDATE webhook_deliveries SET delivered_at = NULL, failed_at = NULL, \
             next_attempt_at = $1, created_at = $1 WHERE endpoint_id = $2 AND event_id = $3",
        )
        .bind(now())
        .bind(id)
        .bind(event_id)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        if changed.rows_affected() != 1 {
            return Err(Error::of(ErrorCode::NotFound, Reason::NoSuchDelivery));
        }
        self.wake_webhooks();
        let row: DeliveryRow = sqlx::query_as(&format!(
            "{DELIVERY} WHERE endpoint_id = $1 AND event_id = $2"
        ))
        .bind(id)
        .bind(event_id)
        .fetch_one(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        row.into_delivery()
            .ok_or_else(|| Error::of(ErrorCode::NotFound, Reason::NoSuchDelivery))
    }

    async fn record_endpoint_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        admin: &Auth,
        kind: EventKind,
        url: &str,
    ) -> Result<(), Error> {
        let event = Event::new(kind, &admin.client)
            .actor(&admin.user.id)
            .detail(origin_of(url));
        Ok(self.record_in(tx, event).await?)
    }

    /// Delivers what is due until `shutdown` flips; finishes the
    /// deliveries in hand before returning.
    pub async fn run_webhooks(&self, mut shutdown: watch::Receiver<bool>) {
        let client = client(self.config.webhook_allow_private);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        // None: not yet (an Instant in the past could be before boot).
        let mut read_at: Option<Instant> = None;
        let mut pruned_at: Option<Instant> = None;
        let due = |at: Option<Instant>, every: Duration| at.is_none_or(|at| at.elapsed() >= every);
        loop {
            if due(pruned_at, PRUNE_EVERY) {
                if let Err(e) = self.prune().await {
                    tracing::warn!(error = %e, "webhooks: could not prune the log");
                }
                pruned_at = Some(Instant::now());
            }
            // Endpoints registered on other instances are heard of here
            // within a second (attempts run beside this loop, so a slow
            // receiver does not hold it up).
            if due(read_at, Duration::from_secs(1)) {
                if let Err(e) = self.refresh_subscriptions().await {
                    tracing::warn!(error = %e, "webhooks: could not read the endpoints");
                }
                read_at = Some(Instant::now());
            }
            if *shutdown.borrow() {
                break;
            }
            match self.deliver_due(&client, &slots).await {
                Ok(started) if started > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhooks: could not read due deliveries"),
            }
            tokio::select! {
                _ = self.webhook_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
        }
        // The attempts in hand finish (each has ATTEMPT_TIMEOUT); the rest
        // waits in the database.
        let all = u32::try_from(IN_FLIGHT).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(2 * ATTEMPT_TIMEOUT, slots.acquire_many(all)).await;
    }

    /// Drops deliveries that ended (delivered or failed) before [`KEEP`]:
    /// the log stays bounded however busy the endpoints are.
    async fn prune(&self) -> Result<(), StoreError> {
        let before = now() - KEEP.as_secs() as i64;
        let endpoints: Vec<(String,)> = sqlx::query_as("SELECT id FROM webhook_endpoints")
            .fetch_all(&self.db.pool)
            .await?;
        // One endpoint at a time, along its (endpoint, created_at) index.
        for (id,) in endpoints {
            sqlx::query(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND created_at < $2 \
                 AND (delivered_at IS NOT NULL OR failed_at IS NOT NULL)",
            )
            .bind(id)
            .bind(before)
            .execute(&self.db.pool)
            .await?;
        }
        Ok(())
    }

    /// Claims what is due, every account's first pending delivery per
    /// endpoint, and starts posting each on its own (at most [`IN_FLIGHT`]
    /// at once), so one slow receiver does not hold up the others; returns
    /// how many were started.
    async fn deliver_due(
        &self,
        client: &reqwest::Client,
        slots: &Arc<Semaphore>,
    ) -> Result<usize, StoreError> {
        let free = slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = now();
        // Later deliveries of an account whose first is being retried wait
        // as long as it (see `settle`), so this reads along the due index
        // and the NOT EXISTS only guards the order.
        let due: Vec<DueRow> = sqlx::query_as(&format!(
            "SELECT d.endpoint_id, d.event_id, d.event_type, d.user_key, d.email, d.username, \
             d.attempts, d.created_at, e.at, e.kind, e.user_id, e.actor_id, e.reason, \
             e.detail, e.ip, w.url, w.secret, w.previous_secret, w.previous_secret_until, \
             w.last_delivered_at \
             FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             JOIN audit_events e ON e.id = d.event_id \
             WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND w.enabled = 1 \
             AND d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o \
                WHERE o.endpoint_id = d.endpoint_id AND o.user_key = d.user_key \
                AND o.event_id < d.event_id AND o.delivered_at IS NULL AND o.failed_at IS NULL) \
             ORDER BY d.next_attempt_at, d.event_id LIMIT {}",
            free.min(BATCH)
        ))
        .bind(now)
        .fetch_all(&self.db.pool)
        .await?;
        let mut started = 0;
        for row in due {
            // Claim it: another instance may be looking at the same row (and
            // may have tried it since this one read it). A claim lapses, so
            // a delivery whose outcome could not be written is sent again:
            // at least once.
            let claimed = sqlx::query(
                "UPDATE webhook_deliveries SET locked_until = $1 \
                 WHERE endpoint_id = $2 AND event_id = $3 AND delivered_at IS NULL \
                 AND failed_at IS NULL AND (locked_until IS NULL OR locked_until < $4) \
                 AND attempts = $5 AND next_attempt_at <= $4",
            )
            .bind(now + CLAIM_SECS)
            .bind(&row.endpoint_id)
            .bind(&row.event_id)
            .bind(now)
            .bind(row.attempts)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
            if claimed != 1 {
                continue;
            }
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            started += 1;
            let services = self.0.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let webhooks = services.webhooks();
                let outcome = webhooks.attempt(&client, &row).await;
                if let Err(e) = webhooks.settle(&row, outcome).await {
                    // The claim lapses and the delivery is tried again.
                    tracing::warn!(error = %e, "webhooks: could not record an attempt");
                }
                drop(slot);
                services.wake_webhooks();
            });
        }
        Ok(started)
    }

    /// Posts one delivery, signed with the endpoint's secret (and the one
    /// before it while that still signs).
    async fn attempt(&self, client: &reqwest::Client, row: &DueRow) -> Outcome {
        let started = Instant::now();
        let fail = |status: Option<u16>, error: String| Outcome {
            delivered: false,
            status,
            error: Some(error),
            latency: started.elapsed(),
        };
        // An address the rules no longer allow (WEBHOOK_ALLOW_PRIVATE
        // turned off since) is refused, like a name resolving inside.
        if check_url(&row.url, self.config.webhook_allow_private).is_err() {
            return fail(None, "address not allowed".into());
        }
        let body = match self.payload(row) {
            Some(body) => body,
            None => return fail(None, "event unknown to this version".into()),
        };
        let Some(signature) = self.signature(row, &body) else {
            return fail(None, "secret unreadable (was SECRET changed?)".into());
        };
        let sent = client
            .post(&row.url)
            .header("content-type", "application/json")
            .header("webhook-id", format!("msg_{}", row.event_id))
            .header("webhook-timestamp", signature.0.to_string())
            .header("webhook-signature", signature.1)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Outcome {
                delivered: true,
                status: Some(response.status().as_u16()),
                error: None,
                latency: started.elapsed(),
            },
            Ok(response) => {
                let status = response.status();
                fail(Some(status.as_u16()), format!("answered {status}"))
            }
            Err(e) => fail(None, describe(&e)),
        }
    }

    /// The body: the same bytes on every attempt (made from the log entry
    /// and the account as queued).
    fn payload(&self, row: &DueRow) -> Option<String> {
        let kind = WebhookEvent::parse(&row.event_type)?;
        let reason = row.reason.as_deref();
        let payload = WebhookPayload {
            kind,
            timestamp: rfc3339(row.at),
            version: PAYLOAD_VERSION,
            data: WebhookData {
                event_id: row.event_id.clone(),
                user: row.user_id.clone().map(|id| WebhookUser {
                    id,
                    email: row.email.clone(),
                    username: row.username.clone(),
                }),
                // A log-out is logged without a reason; its webhook names it.
                reason: reason.and_then(EventReason::parse).or_else(|| {
                    (row.kind == EventKind::Logout.as_str()).then_some(EventReason::Logout)
                }),
                detail: row.detail.clone(),
                by_admin: row.actor_id.is_some() || reason == Some("cli"),
                ip: row.ip.clone(),
            },
        };
        serde_json::to_string(&payload).ok()
    }

    /// `webhook-timestamp` and `webhook-signature` for `body`, sent now.
    fn signature(&self, row: &DueRow, body: &str) -> Option<(i64, String)> {
        let owner = seal_owner(&row.endpoint_id);
        let timestamp = now();
        let msg_id = format!("msg_{}", row.event_id);
        let sign = |sealed: &str| {
            let key = self.tokens.open(&owner, sealed)?;
            standardwebhooks::Webhook::from_bytes(key)
                .ok()?
                .sign(&msg_id, timestamp, body.as_bytes())
                .ok()
        };
        let mut signatures = vec![sign(&row.secret)?];
        if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until) {
            if until > timestamp {
                signatures.extend(sign(previous));
            }
        }
        Some((timestamp, signatures.join(" ")))
    }

    /// Writes an attempt's outcome: delivered, retried later, or given up.
    async fn settle(&self, row: &DueRow, outcome: Outcome) -> Result<(), StoreError> {
        let now = now();
        let latency = outcome.latency.as_millis() as i64;
        let status = outcome.status.map(i64::from);
        let error = outcome
            .error
            .map(|e| e.chars().take(300).collect::<String>());
        let attempts = row.attempts + 1;
        if outcome.delivered {
            metrics::counter!("latchkey_webhook_deliveries_total", "outcome" => "delivered")
                .increment(1);
            metrics::histogram!("latchkey_webhook_latency_seconds")
                .record(outcome.latency.as_secs_f64());
            sqlx::query(
                "UPDATE webhook_deliveries SET delivered_at = $1, attempts = $2, locked_until = NULL, \
                 last_status = $3, last_error = NULL, latency_ms = $4 \
                 WHERE endpoint_id = $5 AND event_id = $6",
            )
            .bind(now)
            .bind(attempts)
            .bind(status)
            .bind(latency)
            .bind(&row.endpoint_id)
            .bind(&row.event_id)
            .execute(&self.db.pool)
            .await?;
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL, last_delivered_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(&row.endpoint_id)
            .execute(&self.db.pool)
            .await?;
            return self.release_next(row, now).await;
        }
        let give_up_after = self.config.webhook_give_up_after.as_secs() as i64;
        let give_up = now - row.created_at >= give_up_after;
        let wait = backoff(self.config.webhook_retry_base, attempts)
            .as_secs()
            .max(1);
        let retry_at = now + wait as i64;
        tracing::warn!(
            endpoint = %row.endpoint_id,
            error = error.as_deref().unwrap_or_default(),
            attempts,
            give_up,
            "webhooks: delivery failed"
        );
        metrics::counter!(
            "latchkey_webhook_deliveries_total",
            "outcome" => if give_up { "failed" } else { "retry" }
        )
        .increment(1);
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $1, locked_until = NULL, last_status = $2, \
             last_error = $3, latency_ms = $4, next_attempt_at = $5, failed_at = $6 \
             WHERE endpoint_id = $7 AND event_id = $8",
        )
        .bind(attempts)
        .bind(status)
        .bind(error)
        .bind(latency)
        .bind(retry_at)
        .bind(give_up.then_some(now))
        .bind(&row.endpoint_id)
        .bind(&row.event_id)
        .execute(&self.db.pool)
        .await?;
        if give_up {
            self.release_next(row, now).await?;
        } else {
            // The account's later deliveries wait as long as this one, so
            // the due query does not read them again and again meanwhile.
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 \
                 WHERE endpoint_id = $2 AND user_key = $3 AND event_id > $4 \
                 AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at < $1",
            )
            .bind(retry_at)
            .bind(&row.endpoint_id)
            .bind(&row.user_key)
            .bind(&row.event_id)
            .execute(&self.db.pool)
            .await?;
        }
        // Nothing has reached it since this delivery was made, or since the
        // last one that did, whichever is later.
        let failing_since = row
            .created_at
            .max(row.last_delivered_at.unwrap_or_default());
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL",
        )
        .bind(failing_since)
        .bind(&row.endpoint_id)
        .execute(&self.db.pool)
        .await?;
        self.turn_off_if_failing(&row.endpoint_id, now - give_up_after)
            .await
    }

    /// `row` is done with (delivered or given up): the account's next
    /// delivery to the endpoint, held back while it was retried, is due now.
    async fn release_next(&self, row: &DueRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 \
             WHERE endpoint_id = $2 AND user_key = $3 AND next_attempt_at > $1 \
             AND delivered_at IS NULL AND failed_at IS NULL \
             AND event_id = (SELECT MIN(event_id) FROM webhook_deliveries \
                WHERE endpoint_id = $2 AND user_key = $3 \
                AND delivered_at IS NULL AND failed_at IS NULL)",
        )
        .bind(now)
        .bind(&row.endpoint_id)
        .bind(&row.user_key)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Turns an endpoint off when nothing reached it since `since` (once,
    /// whichever instance sees it first), logs it and mails the
    /// administrators.
    async fn turn_off_if_failing(&self, id: &str, since: i64) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let off = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'failing', updated_at = $1 \
             WHERE id = $2 AND enabled = 1 AND failing_since <= $3",
        )
        .bind(now())
        .bind(id)
        .bind(since)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if off != 1 {
            return Ok(());
        }
        let (url,): (String,) = sqlx::query_as("SELECT url FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let url = origin_of(&url);
        tracing::warn!(endpoint = id, %url, "webhooks: endpoint failing for a day, turned off");
        metrics::counter!("latchkey_webhook_endpoints_disabled_total").increment(1);
        let worker = crate::ClientInfo::default();
        let event = Event::new(EventKind::WebhookDisabled, &worker).detail(url.clone());
        self.record_in(&mut tx, event).await?;
        let admins: Vec<(String, String)> =
            sqlx::query_as("SELECT email, locale FROM users WHERE role = 'admin' AND disabled = 0")
                .fetch_all(&mut *tx)
                .await?;
        for (email, locale) in admins {
            let letter = crate::Letter::WebhookDisabled { url: &url };
            let mail = self.letter(&locale, &email, letter);
            crate::outbox::enqueue_in(&mut *tx, &mail).await?;
        }
        tx.commit().await?;
        self.wake_mail();
        self.refresh_subscriptions().await
    }
}

impl Services {
    /// Tells the webhook worker that deliveries are waiting.
    pub(crate) fn wake_webhooks(&self) {
        self.webhook_wake.notify_one();
    }
}

/// How long to wait after the `attempts`-th failure: `base`, doubling, at
/// most an hour.
fn backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = (attempts - 1).clamp(0, 20) as u32;
    base.saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF)
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// What went wrong with a request, without the URL (it is in the row).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(detail) => format!("{kind}: {detail}"),
        None => kind.to_owned(),
    }
}

struct Outcome {
    delivered: bool,
    status: Option<u16>,
    error: Option<String>,
    latency: Duration,
}

#[derive(FromRow)]
struct DueRow {
    endpoint_id: String,
    event_id: String,
    event_type: String,
    user_key: String,
    email: Option<String>,
    username: Option<String>,
    attempts: i64,
    created_at: i64,
    at: i64,
    kind: String,
    user_id: Option<String>,
    actor_id: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
    ip: Option<String>,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    last_delivered_at: Option<i64>,
}

#[derive(FromRow)]
struct DeliveryRow {
    event_id: String,
    event_type: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    latency_ms: Option<i64>,
    next_attempt_at: i64,
    delivered_at: Option<i64>,
    failed_at: Option<i64>,
    created_at: i64,
}

impl DeliveryRow {
    fn into_delivery(self) -> Option<WebhookDelivery> {
        let status = match (self.delivered_at, self.failed_at) {
            (Some(_), _) => DeliveryStatus::Delivered,
            (None, Some(_)) => DeliveryStatus::Failed,
            (None, None) => DeliveryStatus::Pending,
        };
        Some(WebhookDelivery {
            message_id: format!("msg_{}", self.event_id),
            kind: WebhookEvent::parse(&self.event_type)?,
            status,
            attempts: self.attempts,
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            latency_ms: self.latency_ms,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(self.next_attempt_at),
            delivered_at: self.delivered_at,
            created_at: self.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "::127.0.0.1",
            "::ffff:0:a00:1",
            "2002:7f00:1::1",
            "64:ff9b:1::1",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(!is_public(ip), "{internal} passed as public");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "2002:101:101::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} refused");
        }
    }

    #[test]
    fn addresses_are_https_and_public_unless_allowed() {
        assert!(check_url("https://hooks.example.com/latchkey", false).is_ok());
        for refused in [
            "http://hooks.example.com/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://localhost:8080/",
            "https://169.254.169.254/latest",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(check_url(refused, false).is_err(), "{refused} allowed");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
        // Other spellings of loopback are IP hosts once parsed.
        for spelling in ["https://2130706433/", "https://0x7f.1/", "https://127.1/"] {
            assert!(check_url(spelling, false).is_err(), "{spelling} allowed");
        }
        assert_eq!(
            origin_of("https://hooks.example.com/T0/B0/secret?token=x"),
            "https://hooks.example.com"
        );
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_refused() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let refused = PublicOnly {
            allow_private: false,
        }
        .resolve(name())
        .await;
        let error = refused.err().expect("localhost is refused").to_string();
        assert!(error.contains("no public address"), "{error}");
        let allowed = PublicOnly {
            allow_private: true,
        }
        .resolve(name())
        .await
        .expect("allowed when private addresses are");
        assert!(allowed.into_iter().all(|addr| addr.ip().is_loopback()));
    }

    #[test]
    fn event_filters_round_trip_and_match_as_sql_would() {
        assert_eq!(events_column(&[]), "");
        assert_eq!(events_column(&WebhookEvent::ALL), "");
        let column = events_column(&[WebhookEvent::Deleted, WebhookEvent::UserCreated]);
        assert_eq!(column, " user.created user.deleted ");
        assert_eq!(
            parse_events(&column),
            [WebhookEvent::UserCreated, WebhookEvent::Deleted]
        );
        assert_eq!(
            events_bits(&column),
            bit(WebhookEvent::UserCreated) | bit(WebhookEvent::Deleted)
        );
        assert_eq!(events_bits("").count_ones(), WebhookEvent::ALL.len() as u32);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 5), Duration::from_secs(80));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_926_400), "2025-12-05T09:20:00Z");
    }
}
