//! Short-lived shared state: one-time codes, cooldowns and rate-limit
//! counters. Redis when `REDIS_URL` is set (every instance sees the same
//! state); an in-process map otherwise (a single instance only).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use subtle::ConstantTimeEq;

use super::db::StoreError;

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
    fn lock(&self) -> String {
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

    async fn ping(&self) -> Result<(), StoreError>;

    /// Names the backend in logs.
    fn kind(&self) -> &'static str;
}

// ---- Redis -----------------------------------------------------------------

pub struct RedisStore {
    conn: ConnectionManager,
    /// Namespaces every key, so several deployments (or test runs) can share
    /// one Redis.
    prefix: String,
}

/// KEYS[1] = code key; ARGV[1] = digest, ARGV[2] = max tries. A hash of
/// {digest, tries}. Digests are HMACs of the code, so comparing them in Lua
/// leaks nothing an attacker can steer.
const CHECK_CODE: &str = r#"
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
"#;

/// KEYS[1] = counter; ARGV[1] = window ms. Returns {count, ttl ms}.
const HIT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"#;

/// KEYS = counter, lock for each budget; ARGV[1] = window ms, ARGV[2] =
/// max wait ms, ARGV[3…] = free attempts per budget. Returns {-1, wait ms}
/// when refused, else {count, wait ms} per budget (wait 0: none).
const ATTEMPT: &str = r#"
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
"#;

/// KEYS = counters: each loses one attempt, never going below zero.
const GIVE_BACK: &str = r#"
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"#;

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
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
        let result: i64 = redis::Script::new(CHECK_CODE)
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
        let (count, ttl): (u64, i64) = redis::Script::new(HIT)
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
        let script = redis::Script::new(ATTEMPT);
        let mut call = script.prepare_invoke();
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
        let script = redis::Script::new(GIVE_BACK);
        let mut call = script.prepare_invoke();
        for budget in budgets {
            call.key(self.key(&budget.counter()));
        }
        call.invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
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

    fn kind(&self) -> &'static str {
        "redis"
    }
}

// ---- In-process ------------------------------------------------------------

enum Value {
    Code { digest: String, tries: u32 },
    Counter(u64),
}

#[derive(Default, Clone)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, (Value, Instant)>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Value, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the live entry of `key` (expired ones are removed first).
    fn with<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut HashMap<String, (Value, Instant)>, Instant) -> T,
    ) -> T {
        let mut map = self.lock();
        let now = Instant::now();
        if map.get(key).is_some_and(|(_, expires)| *expires <= now) {
            map.remove(key);
        }
        // Keep the map from growing without bound.
        if map.len() > 100_000 {
            map.retain(|_, (_, expires)| *expires > now);
        }
        f(&mut map, now)
    }
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    async fn put_code(&self, key: &str, digest: &str, ttl: Duration) -> Result<(), StoreError> {
        self.with(key, |map, now| {
            map.insert(
                key.to_owned(),
                (
                    Value::Code {
                        digest: digest.to_owned(),
                        tries: 0,
                    },
                    now + ttl,
                ),
            );
        });
        Ok(())
    }

    async fn check_code(
        &self,
        key: &str,
        digest: &str,
        max_tries: u32,
    ) -> Result<CodeCheck, StoreError> {
        Ok(self.with(key, |map, _| {
            let Some((
                Value::Code {
                    digest: stored,
                    tries,
                },
                _,
            )) = map.get_mut(key)
            else {
                return CodeCheck::Missing;
            };
            if bool::from(stored.as_bytes().ct_eq(digest.as_bytes())) {
                map.remove(key);
                return CodeCheck::Accepted;
            }
            *tries += 1;
            let left = max_tries.saturating_sub(*tries);
            if left == 0 {
                map.remove(key);
            }
            CodeCheck::Wrong { tries_left: left }
        }))
    }

    async fn cooldown(&self, key: &str, ttl: Duration) -> Result<Option<Duration>, StoreError> {
        Ok(self.with(key, |map, now| match map.get(key) {
            Some((_, expires)) => Some(*expires - now),
            None => {
                map.insert(key.to_owned(), (Value::Counter(1), now + ttl));
                None
            }
        }))
    }

    async fn count(&self, key: &str, window: Duration) -> Result<(u64, Duration), StoreError> {
        Ok(self.with(key, |map, now| {
            let entry = map
                .entry(key.to_owned())
                .or_insert((Value::Counter(0), now + window));
            let left = entry.1 - now;
            match &mut entry.0 {
                Value::Counter(n) => {
                    *n += 1;
                    (*n, left)
                }
                Value::Code { .. } => (0, left),
            }
        }))
    }

    async fn remaining(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        Ok(self.with(key, |map, now| {
            map.get(key).map(|(_, expires)| *expires - now)
        }))
    }

    async fn attempt(
        &self,
        budgets: &[Budget],
        window: Duration,
        max_wait: Duration,
    ) -> Result<Attempt, StoreError> {
        let mut map = self.lock();
        let now = Instant::now();
        let live = |map: &HashMap<String, (Value, Instant)>, key: &str| {
            map.get(key)
                .map(|(_, expires)| *expires)
                .filter(|expires| *expires > now)
        };
        let longest = budgets.iter().filter_map(|b| live(&map, &b.lock())).max();
        if let Some(until) = longest {
            return Ok(Attempt::Wait(until - now));
        }
        let mut out = Vec::with_capacity(budgets.len());
        for budget in budgets {
            let counter = budget.counter();
            let (count, expires) = match map.get(&counter) {
                Some((Value::Counter(n), expires)) if *expires > now => (n + 1, *expires),
                _ => (1, now + window),
            };
            map.insert(counter, (Value::Counter(count), expires));
            let wait = wait_after(count, budget.free, max_wait);
            if let Some(wait) = wait {
                map.insert(budget.lock(), (Value::Counter(1), now + wait));
            }
            out.push((count, wait));
        }
        Ok(Attempt::Allowed(out))
    }

    async fn give_back(&self, budgets: &[Budget]) -> Result<(), StoreError> {
        let mut map = self.lock();
        for budget in budgets {
            if let Some((Value::Counter(n), _)) = map.get_mut(&budget.counter()) {
                *n = n.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}
