//! Short-lived shared state: one-time codes, cooldowns and rate-limit
//! counters, and the channel instances tell each other about changes on.
//! Redis when `REDIS_URL` is set (every instance sees the same state); a
//! bounded in-process cache otherwise (a single instance only).

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt};
use moka::ops::compute::Op;
use moka::sync::Cache;
use moka::Expiry;
use redis::aio::ConnectionManager;
use subtle::ConstantTimeEq;

use crate::db::StoreError;

/// The outcome of checking a one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right code; it is consumed.
    Accepted,
    /// Wrong code; this many tries remain (0: the code is now dead).
    Wrong { tries_left: u32 },
    /// No live code: never sent, expired, used or killed.
    Missing,
}

/// One thing attempts are counted against, and how many it gets before
/// each further one must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub key: String,
    pub free: u64,
}

impl Budget {
    fn counter(&self) -> String {
        format!("attempts:{}", self.key)
    }
    /// The key of the wait this budget's attempts may have started
    /// (`remaining` on it says whether one runs).
    pub(crate) fn lock(&self) -> String {
        format!("wait:{}", self.key)
    }
}

/// The outcome of counting an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead. For each budget, in order: the attempts counted in its
    /// window, and the wait this attempt started before the next one.
    Allowed(Vec<(u64, Option<Duration>)>),
    /// Refused: a wait runs for this long.
    Wait(Duration),
}

/// The wait after the `count`-th attempt of a budget with `free` attempts.
pub fn wait_after(count: u64, free: u64, max_wait: Duration) -> Option<Duration> {
    let over = count.checked_sub(free)?;
    let secs = 1u64 << over.min(20);
    Some(Duration::from_secs(secs).min(max_wait))
}

#[async_trait]
pub trait EphemeralStore: Send + Sync {
    /// Stores a code's digest under `key` for `ttl`, replacing any older code.
    async fn put_code(&self, key: &str, digest: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Checks and, when right, consumes a code in one atomic step; the
    /// `max_tries`-th wrong try deletes it.
    async fn check_code(
        &self,
        key: &str,
        digest: &str,
        max_tries: u32,
    ) -> Result<CodeCheck, StoreError>;

    /// Starts a cooldown unless one runs; returns the time left of a running one.
    async fn cooldown(&self, key: &str, ttl: Duration) -> Result<Option<Duration>, StoreError>;

    /// Counts a hit in a fixed window that starts with the first one;
    /// returns the count so far and the time left in the window.
    async fn count(&self, key: &str, window: Duration) -> Result<(u64, Duration), StoreError>;

    /// Counts a hit in a fixed window; over `limit`, returns when it resets.
    async fn hit(
        &self,
        key: &str,
        window: Duration,
        limit: u32,
    ) -> Result<Option<Duration>, StoreError> {
        let (count, left) = self.count(key, window).await?;
        Ok((count > u64::from(limit)).then_some(left))
    }

    /// Time left on a running cooldown (or any key), if it runs.
    async fn remaining(&self, key: &str) -> Result<Option<Duration>, StoreError>;

    /// Counts one attempt against every budget in a single atomic step,
    /// *before* the work it guards, so concurrent attempts cannot all slip
    /// past a check made earlier. While any budget's wait runs, nothing is
    /// counted and the longest wait is returned. Otherwise every counter
    /// (a fixed `window` from its first attempt) goes up, and a counter
    /// that has reached its free attempts starts a wait before the next
    /// one: 1 s, doubling with each further attempt, capped at `max_wait`.
    async fn attempt(
        &self,
        budgets: &[Budget],
        window: Duration,
        max_wait: Duration,
    ) -> Result<Attempt, StoreError>;

    /// Gives one attempt back to each budget (the attempt succeeded).
    async fn give_back(&self, budgets: &[Budget]) -> Result<(), StoreError>;

    /// Keeps `value` under `key` for `ttl` (a pending sign-in, a result to
    /// show once), replacing what was there.
    async fn put_text(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;

    /// The live value under `key`, left in place.
    async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// The live value under `key`, removed in the same atomic step: of
    /// several concurrent takers, one gets it.
    async fn take_text(&self, key: &str) -> Result<Option<String>, StoreError>;

    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether other instances may share this store (and change what this
    /// one holds in memory).
    fn shared(&self) -> bool {
        false
    }

    /// Tells every instance sharing this store, this one included,
    /// `message` (see `session_cache`). A store private to the process has
    /// no one to tell.
    async fn announce(&self, message: &str) -> Result<(), StoreError> {
        let _ = message;
        Ok(())
    }

    /// What any instance announces, until the connection drops; `None` for
    /// a store private to the process.
    async fn announcements(&self) -> Result<Option<BoxStream<'static, String>>, StoreError> {
        Ok(None)
    }

    /// Names the backend in logs.
    fn kind(&self) -> &'static str;
}

// ---- Redis -----------------------------------------------------------------

pub struct RedisStore {
    /// Opens the subscriber connection (`announcements`).
    client: redis::Client,
    conn: ConnectionManager,
    /// Namespaces every key, so several deployments (or test runs) can share
    /// one Redis.
    prefix: String,
}

/// KEYS[1] = code key; ARGV[1] = digest, ARGV[2] = max tries. A hash of
/// {digest, tries}. Digests are HMACs of the code, so comparing them in Lua
/// leaks nothing an attacker can steer.
static CHECK_CODE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest then return -1 end
if digest == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return -2
end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
local left = tonumber(ARGV[2]) - tries
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return left
"#,
    )
});

/// KEYS[1] = counter; ARGV[1] = window ms. Returns {count, ttl ms}.
static HIT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"#,
    )
});

/// KEYS = counter, lock for each budget; ARGV[1] = window ms, ARGV[2] =
/// max wait ms, ARGV[3…] = free attempts per budget. Returns {-1, wait ms}
/// when refused, else {count, wait ms} per budget (wait 0: none).
static ATTEMPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local longest = 0
for i = 2, #KEYS, 2 do
  local left = redis.call('PTTL', KEYS[i])
  if left > longest then longest = left end
end
if longest > 0 then return {-1, longest} end
local out = {}
for i = 1, #KEYS, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  local free = tonumber(ARGV[3 + (i - 1) / 2])
  local wait = 0
  if n >= free then
    wait = math.min(1000 * 2 ^ math.min(n - free, 20), tonumber(ARGV[2]))
    redis.call('SET', KEYS[i + 1], 1, 'PX', wait)
  end
  out[#out + 1] = n
  out[#out + 1] = wait
end
return out
"#,
    )
});

/// KEYS = counters: each loses one attempt, never going below zero.
static GIVE_BACK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"#,
    )
});

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn channel(&self) -> String {
        self.key("changes")
    }
}

fn redis_err(err: redis::RedisError) -> StoreError {
    StoreError::Ephemeral(err.to_string())
}

#[async_trait]
impl EphemeralStore for RedisStore {
    async fn put_code(&self, key: &str, digest: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = &self.key(key);
        redis::pipe()
            .atomic()
            .del(key)
            .hset(key, "digest", digest)
            .hset(key, "tries", 0)
            .pexpire(key, ttl.as_millis() as i64)
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn check_code(
        &self,
        key: &str,
        digest: &str,
        max_tries: u32,
    ) -> Result<CodeCheck, StoreError> {
        let mut conn = self.conn.clone();
        let key = &self.key(key);
        let result: i64 = CHECK_CODE
            .key(key)
            .arg(digest)
            .arg(max_tries)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(match result {
            -2 => CodeCheck::Accepted,
            -1 => CodeCheck::Missing,
            left => CodeCheck::Wrong {
                tries_left: left.max(0) as u32,
            },
        })
    }

    async fn cooldown(&self, key: &str, ttl: Duration) -> Result<Option<Duration>, StoreError> {
        let mut conn = self.conn.clone();
        let key = &self.key(key);
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if set.is_some() {
            return Ok(None);
        }
        let left: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(Some(Duration::from_millis(left.max(1) as u64)))
    }

    async fn count(&self, key: &str, window: Duration) -> Result<(u64, Duration), StoreError> {
        let mut conn = self.conn.clone();
        let key = &self.key(key);
        let (count, ttl): (u64, i64) = HIT
            .key(key)
            .arg(window.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok((count, Duration::from_millis(ttl.max(1) as u64)))
    }

    async fn remaining(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let mut conn = self.conn.clone();
        let left: i64 = redis::cmd("PTTL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok((left > 0).then(|| Duration::from_millis(left as u64)))
    }

    async fn attempt(
        &self,
        budgets: &[Budget],
        window: Duration,
        max_wait: Duration,
    ) -> Result<Attempt, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = ATTEMPT.prepare_invoke();
        for budget in budgets {
            call.key(self.key(&budget.counter()))
                .key(self.key(&budget.lock()));
        }
        call.arg(window.as_millis() as u64)
            .arg(max_wait.as_millis() as u64);
        for budget in budgets {
            call.arg(budget.free);
        }
        let out: Vec<i64> = call.invoke_async(&mut conn).await.map_err(redis_err)?;
        if out.first() == Some(&-1) {
            let left = out.get(1).copied().unwrap_or(1).max(1);
            return Ok(Attempt::Wait(Duration::from_millis(left as u64)));
        }
        Ok(Attempt::Allowed(
            out.chunks(2)
                .map(|pair| {
                    let wait = pair.get(1).copied().unwrap_or(0);
                    (
                        pair[0].max(0) as u64,
                        (wait > 0).then(|| Duration::from_millis(wait as u64)),
                    )
                })
                .collect(),
        ))
    }

    async fn give_back(&self, budgets: &[Budget]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut call = GIVE_BACK.prepare_invoke();
        for budget in budgets {
            call.key(self.key(&budget.counter()));
        }
        call.invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(redis_err)
    }

    async fn put_text(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn take_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(redis_err)
    }

    fn shared(&self) -> bool {
        true
    }

    async fn announce(&self, message: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(message)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(redis_err)
    }

    async fn announcements(&self) -> Result<Option<BoxStream<'static, String>>, StoreError> {
        // The subscriber has its own connection (a subscribed one can send
        // nothing else); it must not hang on a Redis that accepts and
        // says nothing.
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(self.channel()).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::time::timeout(Duration::from_secs(2), subscribe)
            .await
            .map_err(|_| StoreError::Ephemeral("subscribing timed out".into()))?
            .map_err(redis_err)?;
        let messages = pubsub
            .into_on_message()
            .filter_map(|msg| async move { msg.get_payload::<String>().ok() });
        Ok(Some(messages.boxed()))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

// ---- In-process ------------------------------------------------------------

#[derive(Clone)]
enum Value {
    Code { digest: String, tries: u32 },
    Counter(u64),
    Text(String),
}

/// A value and the deadline it dies at.
#[derive(Clone)]
struct Stored {
    value: Value,
    expires: Instant,
}

/// Each entry expires at its own deadline, set whenever it is written; reads
/// leave it alone.
struct AtDeadline;

impl Expiry<String, Stored> for AtDeadline {
    fn expire_after_create(
        &self,
        _key: &String,
        stored: &Stored,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(stored.expires.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        stored: &Stored,
        updated_at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(stored.expires.saturating_duration_since(updated_at))
    }
}

/// A bounded cache: each entry dies at its deadline (moka expires them in
/// small batches, never by a scan of everything), and past its capacity a
/// new key is refused rather than an old one evicted, so keys sprayed by an
/// attacker can neither grow memory nor push out a live throttle or code.
#[derive(Clone)]
pub struct MemoryStore {
    entries: Cache<String, Stored>,
    /// Past this many live entries a new key is refused (503), never
    /// admitted by evicting another: an evicted throttle counter or code
    /// would fail open.
    capacity: u64,
    /// Serialises `attempt` and `give_back` only: they read and write several
    /// keys as one step, which per-key locks cannot make atomic. Nothing
    /// under it touches more than the budgets' own keys.
    several: Arc<Mutex<()>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryStore {
    /// The most entries kept by `new`; each is a key, a digest or a counter
    /// and the cache's bookkeeping: a few hundred bytes.
    pub const DEFAULT_CAPACITY: u64 = 200_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// A store that keeps at most about `capacity` entries.
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            entries: Cache::builder().expire_after(AtDeadline).build(),
            capacity,
            several: Arc::default(),
        }
    }

    fn several(&self) -> std::sync::MutexGuard<'_, ()> {
        self.several
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entry of `key` if it is still alive.
    fn live(&self, key: &str, now: Instant) -> Option<Stored> {
        self.entries.get(key).filter(|stored| stored.expires > now)
    }

    /// Reads and writes `key` in one step: `f` gets its live entry and the
    /// time, and returns what to do with it and what to answer. Every write
    /// goes through here, so writes to one key never interleave (moka runs
    /// these one at a time per key); `otherwise` is never used, as moka
    /// always calls `f`, but spares an unwrap.
    fn update<T>(
        &self,
        key: &str,
        otherwise: T,
        f: impl FnOnce(Option<Stored>, Instant) -> (Op<Stored>, T),
    ) -> Result<T, StoreError> {
        // The count lags writes a little (moka settles it in batches), so
        // the bound is approximate, never unbounded.
        let full = self.entries.entry_count() >= self.capacity;
        let mut refused = false;
        let mut out = otherwise;
        self.entries
            .entry(key.to_owned())
            .and_compute_with(|entry| {
                let now = Instant::now();
                let live = entry
                    .map(|entry| entry.into_value())
                    .filter(|stored| stored.expires > now);
                let (op, answer) = f(live, now);
                // Full: every write is refused alike, new key or old, so the
                // refusal says nothing about which keys exist; reads and
                // removals go on, and expiries make room again.
                if full && matches!(op, Op::Put(_)) {
                    refused = true;
                    return Op::Nop;
                }
                out = answer;
                op
            });
        if refused {
            metrics::counter!("latchkey_memory_store_full_total").increment(1);
            return Err(StoreError::Ephemeral("the in-process store is full".into()));
        }
        Ok(out)
    }
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    async fn put_code(&self, key: &str, digest: &str, ttl: Duration) -> Result<(), StoreError> {
        self.update(key, (), |_, now| {
            let code = Value::Code {
                digest: digest.to_owned(),
                tries: 0,
            };
            (
                Op::Put(Stored {
                    value: code,
                    expires: now + ttl,
                }),
                (),
            )
        })?;
        Ok(())
    }

    async fn check_code(
        &self,
        key: &str,
        digest: &str,
        max_tries: u32,
    ) -> Result<CodeCheck, StoreError> {
        self.update(key, CodeCheck::Missing, |live, _| {
            let Some(Stored {
                value:
                    Value::Code {
                        digest: stored,
                        tries,
                    },
                expires,
            }) = live
            else {
                return (Op::Nop, CodeCheck::Missing);
            };
            if bool::from(stored.as_bytes().ct_eq(digest.as_bytes())) {
                return (Op::Remove, CodeCheck::Accepted);
            }
            let tries = tries + 1;
            let left = max_tries.saturating_sub(tries);
            let op = if left == 0 {
                Op::Remove
            } else {
                Op::Put(Stored {
                    value: Value::Code {
                        digest: stored,
                        tries,
                    },
                    expires,
                })
            };
            (op, CodeCheck::Wrong { tries_left: left })
        })
    }

    async fn cooldown(&self, key: &str, ttl: Duration) -> Result<Option<Duration>, StoreError> {
        self.update(key, None, |live, now| match live {
            Some(stored) => (Op::Nop, Some(stored.expires - now)),
            None => (
                Op::Put(Stored {
                    value: Value::Counter(1),
                    expires: now + ttl,
                }),
                None,
            ),
        })
    }

    async fn count(&self, key: &str, window: Duration) -> Result<(u64, Duration), StoreError> {
        self.update(key, (0, window), |live, now| match live {
            Some(Stored {
                value: Value::Counter(n),
                expires,
            }) => (
                Op::Put(Stored {
                    value: Value::Counter(n + 1),
                    expires,
                }),
                (n + 1, expires - now),
            ),
            Some(Stored { expires, .. }) => (Op::Nop, (0, expires - now)),
            None => (
                Op::Put(Stored {
                    value: Value::Counter(1),
                    expires: now + window,
                }),
                (1, window),
            ),
        })
    }

    async fn remaining(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        Ok(self.live(key, now).map(|stored| stored.expires - now))
    }

    async fn attempt(
        &self,
        budgets: &[Budget],
        window: Duration,
        max_wait: Duration,
    ) -> Result<Attempt, StoreError> {
        let _several = self.several();
        let now = Instant::now();
        let longest = budgets
            .iter()
            .filter_map(|b| self.live(&b.lock(), now))
            .map(|stored| stored.expires)
            .max();
        if let Some(until) = longest {
            return Ok(Attempt::Wait(until - now));
        }
        let mut out = Vec::with_capacity(budgets.len());
        for budget in budgets {
            let count = self.update(&budget.counter(), 1, |live, now| {
                let (count, expires) = match live {
                    Some(Stored {
                        value: Value::Counter(n),
                        expires,
                    }) => (n + 1, expires),
                    _ => (1, now + window),
                };
                let stored = Stored {
                    value: Value::Counter(count),
                    expires,
                };
                (Op::Put(stored), count)
            })?;
            let wait = wait_after(count, budget.free, max_wait);
            if let Some(wait) = wait {
                self.update(&budget.lock(), (), |_, now| {
                    let stored = Stored {
                        value: Value::Counter(1),
                        expires: now + wait,
                    };
                    (Op::Put(stored), ())
                })?;
            }
            out.push((count, wait));
        }
        Ok(Attempt::Allowed(out))
    }

    async fn give_back(&self, budgets: &[Budget]) -> Result<(), StoreError> {
        let _several = self.several();
        for budget in budgets {
            self.update(&budget.counter(), (), |live, _| match live {
                Some(Stored {
                    value: Value::Counter(n),
                    expires,
                }) if n > 0 => {
                    let stored = Stored {
                        value: Value::Counter(n - 1),
                        expires,
                    };
                    (Op::Put(stored), ())
                }
                _ => (Op::Nop, ()),
            })?;
        }
        Ok(())
    }

    async fn put_text(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        self.update(key, (), |_, now| {
            let stored = Stored {
                value: Value::Text(value.to_owned()),
                expires: now + ttl,
            };
            (Op::Put(stored), ())
        })
    }

    async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(match self.live(key, Instant::now()) {
            Some(Stored {
                value: Value::Text(text),
                ..
            }) => Some(text),
            _ => None,
        })
    }

    async fn take_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.update(key, None, |live, _| match live {
            Some(Stored {
                value: Value::Text(text),
                ..
            }) => (Op::Remove, Some(text)),
            _ => (Op::Nop, None),
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

#[cfg(test)]
impl MemoryStore {
    /// Runs the cache's deferred work (evictions, expiries) now and counts
    /// what is left.
    fn settled_len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_store_refuses_every_write_and_keeps_what_it_holds() {
        let store = MemoryStore::with_capacity(1_000);
        let window = Duration::from_secs(600);
        store.hit("throttle", window, 5).await.unwrap();
        let mut refused = 0;
        for i in 0..10_000 {
            if store.hit(&format!("spray:{i}"), window, 5).await.is_err() {
                refused += 1;
            }
        }
        let len = store.settled_len();
        println!("{len} entries kept, {refused} refused");
        assert!(len <= 1_100, "{len} entries kept past a capacity of 1000");
        assert!(refused >= 8_900, "{refused} refused");
        // Full, the store fails closed for every key alike (a 503 upstream):
        // the throttle that was there before cannot be reset by the spray.
        assert!(store.hit("throttle", window, 5).await.is_err());
        assert!(store.remaining("throttle").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_code_expires_at_its_own_ttl() {
        let store = MemoryStore::new();
        store
            .put_code("short", "d", Duration::from_millis(200))
            .await
            .unwrap();
        store
            .put_code("long", "d", Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Dead for reads at once…
        assert_eq!(
            store.check_code("short", "d", 3).await.unwrap(),
            CodeCheck::Missing
        );
        assert!(store.remaining("long").await.unwrap().is_some());
        // …and out of memory within the cache's timer tick (about 1 s).
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        assert_eq!(store.settled_len(), 1, "the expired code is dropped");
        assert_eq!(
            store.check_code("long", "d", 3).await.unwrap(),
            CodeCheck::Accepted
        );
        assert_eq!(store.settled_len(), 0);
    }

    #[tokio::test]
    async fn wrong_tries_keep_the_deadline_and_run_out() {
        let store = MemoryStore::new();
        store
            .put_code("c", "right", Duration::from_secs(60))
            .await
            .unwrap();
        let before = store.remaining("c").await.unwrap().unwrap();
        assert_eq!(
            store.check_code("c", "wrong", 2).await.unwrap(),
            CodeCheck::Wrong { tries_left: 1 }
        );
        let after = store.remaining("c").await.unwrap().unwrap();
        assert!(after <= before, "a wrong try must not extend the code");
        assert_eq!(
            store.check_code("c", "wrong", 2).await.unwrap(),
            CodeCheck::Wrong { tries_left: 0 }
        );
        assert_eq!(
            store.check_code("c", "right", 2).await.unwrap(),
            CodeCheck::Missing
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_attempts_get_only_the_free_budget() {
        let store = MemoryStore::new();
        let budgets = vec![Budget {
            key: "someone".into(),
            free: 5,
        }];
        let tasks: Vec<_> = (0..300)
            .map(|_| {
                let (store, budgets) = (store.clone(), budgets.clone());
                tokio::spawn(async move {
                    store
                        .attempt(&budgets, Duration::from_secs(600), Duration::from_secs(60))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            if matches!(task.await.unwrap(), Attempt::Allowed(_)) {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5);
    }
}
