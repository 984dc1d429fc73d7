//! Live sessions held in memory, so an authenticated request costs no
//! database trip.
//!
//! Two bounded maps: session id → (user id, the user's generation, expiry)
//! and user id → (generation, user). A hit needs both, with the same
//! generation, so forgetting a user forgets every session of theirs at
//! once. Every flow that changes a user or ends a session forgets it after
//! its commit, here and, through the ephemeral store's channel, on every
//! other instance. A fill that read the database before such a change but
//! lands after it is dropped (the epoch moved on).
//!
//! With Redis, the cache is only used while this instance can prove it
//! hears the channel: it announces a beat every second and serves from
//! memory only if something was heard in the last `DEAF_AFTER`. After a
//! silence everything is forgotten, since announcements may have been
//! missed. Every announcement carries its instance's id and a sequence
//! number, beats too, so an announcement that never arrived (a failed
//! publish) shows as a gap at the next one and everything is forgotten.
//! With the in-process store there is one instance, and forgetting
//! locally is enough.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use moka::sync::Cache;

use crate::ephemeral::EphemeralStore;
use crate::model::User;

/// How often each instance announces that it is alive.
const BEAT: Duration = Duration::from_secs(1);
/// No announcement heard for this long: the channel may be losing ours.
const DEAF_AFTER: Duration = Duration::from_millis(2500);
/// However a change might go unheard (an instance cut off from Redis, a
/// writer outside the flows), nothing is served older than this.
const HELD_FOR: Duration = Duration::from_secs(10);
/// How long an announcement may take before it is given up (and shows as
/// a gap at the next one).
const ANNOUNCE_WITHIN: Duration = Duration::from_secs(2);
/// Instances remembered for gap checks; past this, all are dropped.
const MAX_PEERS: usize = 1024;
const CAPACITY: u64 = 100_000;

/// What changed, as announced on the channel (`u:<id>`, `s:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Anything about the user, or several of their sessions ended.
    User(String),
    /// One session ended.
    Session(String),
}

impl Change {
    fn message(&self) -> String {
        match self {
            Change::User(id) => format!("u:{id}"),
            Change::Session(id) => format!("s:{id}"),
        }
    }

    fn parse(message: &str) -> Option<Self> {
        match message.split_once(':')? {
            ("u", id) => Some(Change::User(id.to_owned())),
            ("s", id) => Some(Change::Session(id.to_owned())),
            _ => None,
        }
    }
}

/// What travels on the channel: `<instance> <sequence> <beat | change>`.
struct Announcement<'a> {
    instance: &'a str,
    sequence: u64,
    change: Option<Change>,
}

impl<'a> Announcement<'a> {
    fn parse(message: &'a str) -> Option<Self> {
        let mut parts = message.splitn(3, ' ');
        let instance = parts.next()?;
        let sequence = parts.next()?.parse().ok()?;
        let body = parts.next()?;
        let change = match body {
            "beat" => None,
            _ => Some(Change::parse(body)?),
        };
        Some(Self {
            instance,
            sequence,
            change,
        })
    }
}

#[derive(Clone)]
struct HeldSession {
    user_id: Arc<str>,
    generation: u64,
    expires_at: i64,
}

struct HeldUser {
    generation: u64,
    user: User,
}

pub struct SessionCache {
    sessions: Cache<String, HeldSession>,
    users: Cache<Arc<str>, Arc<HeldUser>>,
    /// Moves on with every change forgotten; a fill keeps its entry only
    /// if no change came between its read and its write.
    epoch: AtomicU64,
    generations: AtomicU64,
    /// `None`: private to the process, always usable. Otherwise when the
    /// channel was last heard, in ms since `started`.
    heard_at: Option<AtomicU64>,
    started: Instant,
    /// Who this instance is on the channel, and its last sequence number.
    instance: String,
    sequence: AtomicU64,
}

/// Taken before the database read that fills the cache.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// `shared`: other instances change the same users (Redis).
    pub fn new(shared: bool) -> Self {
        Self {
            sessions: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(HELD_FOR)
                .build(),
            users: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(HELD_FOR)
                .build(),
            epoch: AtomicU64::new(0),
            generations: AtomicU64::new(0),
            heard_at: shared.then(|| AtomicU64::new(0)),
            started: Instant::now(),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            sequence: AtomicU64::new(0),
        }
    }

    /// The next announcement of this instance: a change, or a beat.
    fn announcement(&self, change: Option<&Change>) -> String {
        let sequence = self.sequence.fetch_add(1, Ordering::AcqRel) + 1;
        let body = change.map_or_else(|| "beat".to_owned(), Change::message);
        format!("{} {sequence} {body}", self.instance)
    }

    fn millis(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether memory may answer: always for a private store, while the
    /// channel is heard for a shared one.
    pub fn usable(&self) -> bool {
        match &self.heard_at {
            None => true,
            Some(at) => {
                let at = at.load(Ordering::Acquire);
                at != 0 && self.millis().saturating_sub(at) <= DEAF_AFTER.as_millis() as u64
            }
        }
    }

    /// The user of a live session `session_id` of `user_id`, and when the
    /// session ends, if held.
    pub fn get(&self, session_id: &str, user_id: &str, now: i64) -> Option<(User, i64)> {
        if !self.usable() {
            return None;
        }
        let session = self.sessions.get(session_id)?;
        if &*session.user_id != user_id || session.expires_at <= now {
            return None;
        }
        let user = self.users.get(&session.user_id)?;
        (user.generation == session.generation).then(|| (user.user.clone(), session.expires_at))
    }

    /// Taken before reading what `fill` will hold; `None` when the cache
    /// is not usable.
    pub fn ticket(&self) -> Option<Ticket> {
        self.usable()
            .then(|| Ticket(self.epoch.load(Ordering::Acquire)))
    }

    /// Holds a session read from the database after `ticket` was taken.
    pub fn fill(&self, ticket: Ticket, session_id: &str, user: &User, expires_at: i64) {
        let user_id: Arc<str> = Arc::from(user.id.as_str());
        // Reuse the held user's generation, so the user's other held
        // sessions stay valid; a forgotten user starts a new one.
        let held = self
            .users
            .entry(user_id.clone())
            .or_insert_with(|| {
                Arc::new(HeldUser {
                    generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
                    user: user.clone(),
                })
            })
            .into_value();
        self.sessions.insert(
            session_id.to_owned(),
            HeldSession {
                user_id: user_id.clone(),
                generation: held.generation,
                expires_at,
            },
        );
        // A change committed after our read and forgotten before this
        // write would otherwise be undone by it.
        if self.epoch.load(Ordering::Acquire) != ticket.0 {
            self.sessions.invalidate(session_id);
            self.users.invalidate(&user_id);
        }
    }

    /// Forgets what `change` touched (on this instance).
    pub fn forget(&self, change: &Change) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match change {
            Change::User(id) => self.users.invalidate(id.as_str()),
            Change::Session(id) => self.sessions.invalidate(id),
        }
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.invalidate_all();
        self.sessions.invalidate_all();
    }

    /// The channel is lost: memory must not answer until it is heard again
    /// (and then everything held before is forgotten).
    fn deaf(&self) {
        if let Some(at) = &self.heard_at {
            at.store(0, Ordering::Release);
        }
    }

    /// The channel was heard; after a silence, everything is forgotten.
    fn heard(&self) {
        let Some(at) = &self.heard_at else { return };
        let now = self.millis().max(1);
        let before = at.swap(now, Ordering::AcqRel);
        if before == 0 || now.saturating_sub(before) > DEAF_AFTER.as_millis() as u64 {
            self.forget_all();
        }
    }

    /// Tells the other instances. The publish runs on its own task, so a
    /// request that is dropped meanwhile (its client left, a timeout)
    /// cannot cancel it; a publish that fails shows as a gap at the next.
    pub(crate) async fn announce(&self, store: &Arc<dyn EphemeralStore>, change: &Change) {
        if self.heard_at.is_none() {
            return;
        }
        let message = self.announcement(Some(change));
        let store = store.clone();
        let publish = tokio::spawn(async move {
            match tokio::time::timeout(ANNOUNCE_WITHIN, store.announce(&message)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "could not announce a session change"),
                Err(_) => tracing::warn!("announcing a session change timed out"),
            }
        });
        let _ = publish.await;
    }

    /// One announcement heard: applies another instance's change, and
    /// forgets everything when one of theirs went missing.
    fn hear(&self, message: &str, peers: &mut HashMap<String, u64>) {
        let Some(heard) = Announcement::parse(message) else {
            return;
        };
        self.heard();
        if heard.instance == self.instance {
            return;
        }
        if peers.len() >= MAX_PEERS && !peers.contains_key(heard.instance) {
            peers.clear();
            self.forget_all();
        }
        let last = peers
            .entry(heard.instance.to_owned())
            .or_insert(heard.sequence);
        if heard.sequence > *last + 1 {
            self.forget_all();
        }
        *last = (*last).max(heard.sequence);
        if let Some(change) = heard.change {
            self.forget(&change);
        }
    }

    /// Listens to the channel for as long as the cache lives, and beats on
    /// it (from a task of its own, so a slow publish never delays hearing).
    pub(crate) fn listen(cache: Weak<SessionCache>, store: Arc<dyn EphemeralStore>) {
        tokio::spawn({
            let (cache, store) = (cache.clone(), store.clone());
            async move {
                let mut beat = tokio::time::interval(BEAT);
                loop {
                    beat.tick().await;
                    let Some(message) = cache.upgrade().map(|c| c.announcement(None)) else {
                        return;
                    };
                    let _ = tokio::time::timeout(ANNOUNCE_WITHIN, store.announce(&message)).await;
                }
            }
        });
        tokio::spawn(async move {
            let mut peers = HashMap::new();
            while cache.strong_count() > 0 {
                let mut messages = match store.announcements().await {
                    Ok(Some(messages)) => messages,
                    Ok(None) => return,
                    Err(err) => {
                        tracing::debug!(error = %err, "session channel unreachable");
                        tokio::time::sleep(BEAT).await;
                        continue;
                    }
                };
                loop {
                    let message = tokio::time::timeout(DEAF_AFTER, messages.next()).await;
                    let Some(cache) = cache.upgrade() else { return };
                    match message {
                        Ok(Some(message)) => cache.hear(&message, &mut peers),
                        // Closed, or silent for too long.
                        Ok(None) | Err(_) => {
                            cache.deaf();
                            break;
                        }
                    }
                }
                tracing::debug!("session channel lost: reconnecting");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            email: format!("{name}@example.com"),
            username: name.into(),
            role: Role::User,
            email_verified: true,
            created_at: 0,
            locale: "en".into(),
            has_password: true,
        }
    }

    #[test]
    fn a_forgotten_user_takes_all_their_sessions_along() {
        let cache = SessionCache::new(false);
        let ticket = cache.ticket().unwrap();
        cache.fill(ticket, "s1", &user("u1", "ann"), 100);
        cache.fill(ticket, "s2", &user("u1", "ann"), 100);
        assert_eq!(cache.get("s1", "u1", 50).unwrap().0.username, "ann");
        assert!(cache.get("s1", "u2", 50).is_none(), "another user's token");
        assert!(cache.get("s1", "u1", 100).is_none(), "expired");

        cache.forget(&Change::User("u1".into()));
        // A fill for s1 (still live) must not revive s2.
        cache.fill(cache.ticket().unwrap(), "s1", &user("u1", "ann2"), 100);
        assert_eq!(cache.get("s1", "u1", 50).unwrap().0.username, "ann2");
        assert!(cache.get("s2", "u1", 50).is_none());

        cache.forget(&Change::Session("s1".into()));
        assert!(cache.get("s1", "u1", 50).is_none());
    }

    #[test]
    fn a_fill_that_raced_a_change_is_dropped() {
        let cache = SessionCache::new(false);
        let ticket = cache.ticket().unwrap();
        // The change commits after the fill's read and is forgotten
        // before its write.
        cache.forget(&Change::User("u1".into()));
        cache.fill(ticket, "s1", &user("u1", "stale"), 100);
        assert!(cache.get("s1", "u1", 50).is_none());
    }

    #[test]
    fn a_shared_cache_serves_only_while_it_hears_the_channel() {
        let mut cache = SessionCache::new(true);
        cache.started -= Duration::from_secs(10);
        assert!(cache.ticket().is_none(), "nothing heard yet");
        cache.heard();
        cache.fill(cache.ticket().unwrap(), "s1", &user("u1", "ann"), 100);
        assert!(cache.get("s1", "u1", 50).is_some());

        // Last heard ten seconds ago: memory must not answer.
        cache.heard_at.as_ref().unwrap().store(1, Ordering::Release);
        assert!(!cache.usable());
        assert!(cache.get("s1", "u1", 50).is_none());
        assert!(cache.ticket().is_none());
        // Heard again: usable, but what it held before the silence is gone.
        cache.heard();
        assert!(cache.usable());
        assert!(cache.get("s1", "u1", 50).is_none());

        // The subscription drops: unusable at once, not 2.5 s later.
        cache.fill(cache.ticket().unwrap(), "s1", &user("u1", "ann"), 100);
        cache.deaf();
        assert!(cache.get("s1", "u1", 50).is_none());
        cache.heard();
        assert!(cache.get("s1", "u1", 50).is_none(), "forgotten");
    }

    #[test]
    fn changes_read_back_as_sent() {
        for change in [Change::User("a".into()), Change::Session("b:c".into())] {
            assert_eq!(Change::parse(&change.message()), Some(change));
        }
        assert_eq!(Change::parse("beat"), None);
    }

    #[test]
    fn a_missing_announcement_forgets_everything_and_echoes_are_skipped() {
        let cache = SessionCache::new(true);
        let mut peers = HashMap::new();
        cache.hear("other 1 beat", &mut peers);
        cache.fill(cache.ticket().unwrap(), "s1", &user("u1", "ann"), 100);
        cache.fill(cache.ticket().unwrap(), "s2", &user("u2", "bob"), 100);
        cache.hear("other 2 u:u1", &mut peers);
        assert!(cache.get("s1", "u1", 50).is_none(), "applied");
        assert!(cache.get("s2", "u2", 50).is_some(), "only that user");
        // Number 3 never came: what it said is unknown.
        cache.hear("other 4 beat", &mut peers);
        assert!(cache.get("s2", "u2", 50).is_none());

        // This instance's own announcements were applied before they left.
        cache.fill(cache.ticket().unwrap(), "s2", &user("u2", "bob"), 100);
        let own = cache.announcement(Some(&Change::User("u2".into())));
        cache.hear(&own, &mut peers);
        assert!(cache.get("s2", "u2", 50).is_some());
        // Anything else on the channel is ignored.
        cache.hear("other x u:u2", &mut peers);
        cache.hear("other 5 z:u2", &mut peers);
        assert!(cache.get("s2", "u2", 50).is_some());
    }
}
