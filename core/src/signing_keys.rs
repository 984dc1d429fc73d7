//! The keys that sign tokens: Ed25519 (`EdDSA`) by default, P-256 (`ES256`)
//! for apps that cannot check Ed25519. Kept in the database with the
//! private part sealed under a key derived from the deployment secret, and
//! published at `/.well-known/jwks.json`, so any service verifies a
//! Latchkey token from the JWKS alone.
//!
//! Staged rotation, per algorithm: a key signs for `rotation` (30 days);
//! its successor is made `ahead` (7 days) before it takes over, and is
//! published from then on, so a verifier that fetches the JWKS at least
//! that often never meets an unknown `kid`. A key that stopped signing
//! stays published until every token it signed has expired.
//!
//! Every instance holds the keys in memory and reloads them (keeping the
//! schedule while it is at it) once a minute, or at once when a token names
//! a key it does not know yet. Two instances that schedule the same key at
//! once make one row (unique `(alg, signs_from)`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::rngs::OsRng;
use sqlx::{Any, Transaction};

pub use crate::config::KeySchedule;
use crate::db::{Db, StoreError};
use crate::error::Error;
use crate::tokens::Tokens;

/// How often an instance rereads the keys (and keeps the schedule).
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// How long a key stays published after it stopped signing, beyond the
/// longest a token lives: room for an instance that has not reread the
/// keys yet and for clocks that differ.
const KEPT_MARGIN: Duration = Duration::from_secs(3600);
/// A token naming an unknown key rereads them at most this often: forged
/// `kid`s cannot turn into a query each, and a key another instance just
/// started to sign with is known here a moment later.
pub const UNKNOWN_KID_RELOAD: Duration = Duration::from_millis(100);

/// The algorithms Latchkey signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    EdDSA,
    ES256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::EdDSA, Alg::ES256];

    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    pub fn jwt(self) -> Algorithm {
        match self {
            Alg::EdDSA => Algorithm::EdDSA,
            Alg::ES256 => Algorithm::ES256,
        }
    }

    /// A new private key, PKCS#8 DER.
    fn generate(self) -> Vec<u8> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let der = match self {
            // Version 1 (no public key inside): the form jsonwebtoken reads
            // a JWK from.
            Alg::EdDSA => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: ed25519_dalek::SigningKey::generate(&mut OsRng).to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der(),
            Alg::ES256 => p256::ecdsa::SigningKey::random(&mut OsRng).to_pkcs8_der(),
        };
        der.expect("encoding a fresh key cannot fail")
            .as_bytes()
            .to_vec()
    }

    fn encoding(self, der: &[u8]) -> EncodingKey {
        match self {
            Alg::EdDSA => EncodingKey::from_ed_der(der),
            Alg::ES256 => EncodingKey::from_ec_der(der),
        }
    }
}

/// One key, as an instance holds it.
pub struct Key {
    pub kid: String,
    pub alg: Alg,
    pub signs_from: i64,
    pub signs_until: i64,
    pub created_at: i64,
    /// `None` when the private part does not open: it was sealed under
    /// another deployment secret. Such a key still verifies.
    pub encoding: Option<EncodingKey>,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

impl Key {
    fn signs_at(&self, now: i64) -> bool {
        self.encoding.is_some() && self.signs_from <= now && now < self.signs_until
    }
}

/// Whether a reread may write (make keys, drop expired ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Schedule,
    /// Read only: the caller may be inside a write transaction.
    Alone,
}

/// The keys as last read.
struct Ring {
    keys: Vec<Arc<Key>>,
    read_at: Option<Instant>,
}

impl Ring {
    fn age(&self) -> Option<Duration> {
        self.read_at.map(|at| at.elapsed())
    }

    /// The newest key of `alg` that signs at `now`.
    fn signer(&self, alg: Alg, now: i64) -> Option<Arc<Key>> {
        self.keys
            .iter()
            .filter(|k| k.alg == alg && k.signs_at(now))
            .max_by_key(|k| k.signs_from)
            .cloned()
    }

    fn by_kid(&self, kid: &str) -> Option<Arc<Key>> {
        self.keys.iter().find(|k| k.kid == kid).cloned()
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    public_jwk: String,
    private_key: String,
    created_at: i64,
    signs_from: i64,
    signs_until: i64,
}

pub struct SigningKeys {
    db: Db,
    /// Seals the private parts.
    tokens: Arc<Tokens>,
    schedule: KeySchedule,
    /// How long a key stays published after it stopped signing.
    kept_after: Duration,
    ring: RwLock<Arc<Ring>>,
    reading: tokio::sync::Mutex<()>,
    /// When a reread was last tried.
    tried_at: std::sync::Mutex<Option<Instant>>,
    /// A background reread is under way: requests meeting a stale copy
    /// start no other (with the database down, they would queue up).
    refreshing: AtomicBool,
}

impl SigningKeys {
    /// `token_life`: the longest any token it signs lives.
    pub fn new(db: Db, tokens: Arc<Tokens>, schedule: KeySchedule, token_life: Duration) -> Self {
        Self {
            db,
            tokens,
            schedule,
            kept_after: token_life + KEPT_MARGIN,
            ring: RwLock::new(Arc::new(Ring {
                keys: Vec::new(),
                read_at: None,
            })),
            reading: tokio::sync::Mutex::new(()),
            tried_at: std::sync::Mutex::new(None),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Reads the keys, making the first ones on a new deployment. The
    /// server calls it before it serves: a key is then never made inside
    /// another write (SQLite has one writer at a time).
    pub async fn ready(&self) -> Result<(), Error> {
        self.reread(Duration::ZERO, Keep::Schedule).await.map(drop)
    }

    /// Rereads the keys and keeps the schedule once a minute, whether or
    /// not requests come (a successor is due days ahead, traffic or not),
    /// for as long as these keys are in use.
    pub fn keep_in_background(keys: Weak<Self>) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(keys) = keys.upgrade() else { return };
                if let Err(err) = keys.reread(Duration::ZERO, Keep::Schedule).await {
                    tracing::warn!(cause = ?err.cause, "signing keys not reread");
                }
            }
        });
    }

    /// The key that signs now with `alg`.
    pub async fn signer(self: &Arc<Self>, alg: Alg) -> Result<Arc<Key>, Error> {
        if let Some(key) = self.fresh().await?.signer(alg, crate::now()) {
            return Ok(key);
        }
        // The schedule ran past what was read (the background task could
        // not keep it). Read only: the caller may be inside a write, and
        // with SQLite a second one would wait for it.
        self.reread(UNKNOWN_KID_RELOAD, Keep::Alone)
            .await?
            .signer(alg, crate::now())
            .ok_or_else(|| Error::internal().caused_by("no signing key: the schedule was not kept"))
    }

    /// The published key named `kid`, if there is one.
    pub async fn verifier(self: &Arc<Self>, kid: &str) -> Result<Option<Arc<Key>>, Error> {
        let ring = self.fresh().await?;
        if let Some(key) = ring.by_kid(kid) {
            return Ok(Some(key));
        }
        // Another instance may have made it since this one last read. If
        // the keys cannot be read now, the token is not one we know.
        Ok(self
            .reread(UNKNOWN_KID_RELOAD, Keep::Alone)
            .await
            .ok()
            .and_then(|ring| ring.by_kid(kid)))
    }

    /// Every published key, for `/.well-known/jwks.json`.
    pub async fn jwks(self: &Arc<Self>) -> Result<JwkSet, Error> {
        let ring = self.fresh().await?;
        Ok(JwkSet {
            keys: ring.keys.iter().map(|k| k.jwk.clone()).collect(),
        })
    }

    /// When the first key still published was made: tokens signed with the
    /// shared secret before then (Latchkey before signing keys) still
    /// verify until they expire.
    pub async fn first_made(self: &Arc<Self>) -> Result<Option<i64>, Error> {
        let ring = self.fresh().await?;
        Ok(ring.keys.iter().map(|k| k.created_at).min())
    }

    /// Rotates now (`server rotate-keys`): the key signing now stops, and
    /// the one published to follow it takes over at once; a new successor
    /// is published. Instances pick the change up within a minute; tokens
    /// of the old key verify until they expire.
    pub async fn rotate(&self) -> Result<(), Error> {
        let now = crate::now();
        let rotation = self.schedule.rotation.as_secs() as i64;
        let mut tx = self.db.begin().await?;
        for alg in Alg::ALL {
            // A key made this very second steps back one, so that its
            // successor can take the slot `(alg, now)`.
            sqlx::query(
                "UPDATE signing_keys SET signs_until = $1, \
                 signs_from = CASE WHEN signs_from >= $1 THEN $1 - 1 ELSE signs_from END \
                 WHERE alg = $2 AND signs_from <= $1 AND signs_until > $1",
            )
            .bind(now)
            .bind(alg.name())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            let next: Option<String> = sqlx::query_scalar(
                "SELECT kid FROM signing_keys WHERE alg = $1 AND signs_from > $2 ORDER BY signs_from LIMIT 1",
            )
            .bind(alg.name())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            match next {
                Some(kid) => {
                    // Later ones were only published: the schedule restarts.
                    sqlx::query(
                        "DELETE FROM signing_keys WHERE alg = $1 AND signs_from > $2 AND kid <> $3",
                    )
                    .bind(alg.name())
                    .bind(now)
                    .bind(&kid)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                    sqlx::query(
                        "UPDATE signing_keys SET signs_from = $1, signs_until = $2 WHERE kid = $3",
                    )
                    .bind(now)
                    .bind(now + rotation)
                    .bind(&kid)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                }
                None => self.make_in(&mut tx, alg, now, now + rotation, now).await?,
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.reread(Duration::ZERO, Keep::Schedule).await?;
        Ok(())
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring.read().expect("key ring lock").clone()
    }

    /// The keys as held. A copy older than a minute is still used while
    /// a background task rereads them: a request never waits for that
    /// (and a caller inside a transaction never opens a second one).
    async fn fresh(self: &Arc<Self>) -> Result<Arc<Ring>, Error> {
        let ring = self.ring();
        match ring.age() {
            None => self.reread(Duration::ZERO, Keep::Schedule).await,
            Some(age) if age < RELOAD_EVERY => Ok(ring),
            Some(_) => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let keys = self.clone();
                    tokio::spawn(async move {
                        if let Err(err) = keys.reread(RELOAD_EVERY, Keep::Schedule).await {
                            tracing::warn!(cause = ?err.cause, "signing keys not reread");
                        }
                        keys.refreshing.store(false, Ordering::Release);
                    });
                }
                Ok(ring)
            }
        }
    }

    /// Reads the keys, and with `Keep::Schedule` keeps the schedule when
    /// it needs it (makes the next key, drops expired ones) — unless
    /// another caller tried less than `unless_newer` ago, whether or not
    /// that worked (callers queue here, and the first one's attempt
    /// serves the rest: with the database down, they do not each wait
    /// for it).
    async fn reread(&self, unless_newer: Duration, keep: Keep) -> Result<Arc<Ring>, Error> {
        let _reading = self.reading.lock().await;
        let ring = self.ring();
        let tried = *self.tried_at.lock().expect("key ring lock");
        if tried.is_some_and(|at| at.elapsed() < unless_newer) {
            return match ring.read_at {
                Some(_) => Ok(ring),
                None => Err(Error::unavailable().caused_by("signing keys not read yet")),
            };
        }
        *self.tried_at.lock().expect("key ring lock") = Some(Instant::now());
        let now = crate::now();
        let mut keys = self.read().await?;
        if keep == Keep::Schedule && self.schedule_needs_keeping(&keys, now) {
            self.keep_schedule(&keys, now).await?;
            keys = self.read().await?;
        }
        let ring = Arc::new(Ring {
            keys,
            read_at: Some(Instant::now()),
        });
        *self.ring.write().expect("key ring lock") = ring.clone();
        Ok(ring)
    }

    fn expired_before(&self, now: i64) -> i64 {
        now - self.kept_after.as_secs() as i64
    }

    fn schedule_needs_keeping(&self, keys: &[Arc<Key>], now: i64) -> bool {
        let ahead = self.schedule.ahead.as_secs() as i64;
        keys.iter()
            .any(|k| k.signs_until < self.expired_before(now))
            || Alg::ALL.into_iter().any(|alg| {
                let mine = || {
                    keys.iter()
                        .filter(move |k| k.alg == alg && k.encoding.is_some())
                };
                !mine().any(|k| k.signs_at(now))
                    || mine().map(|k| k.signs_until).max().unwrap_or(now) - now <= ahead
            })
    }

    /// Drops keys whose tokens have all expired, makes a signing key where
    /// none signs now, and the next one where it is due to be published.
    async fn keep_schedule(&self, keys: &[Arc<Key>], now: i64) -> Result<(), Error> {
        let rotation = self.schedule.rotation.as_secs() as i64;
        let ahead = self.schedule.ahead.as_secs() as i64;
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM signing_keys WHERE signs_until < $1")
            .bind(self.expired_before(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        // Only keys that open here count: keys sealed under another
        // secret (a development server makes a new one each start; a stale
        // instance in a secret change) are left alone, to verify until
        // they expire.
        for alg in Alg::ALL {
            let mine = || {
                keys.iter()
                    .filter(move |k| k.alg == alg && k.encoding.is_some())
            };
            let mut last = mine().map(|k| k.signs_until).max();
            if !mine().any(|k| k.signs_at(now)) {
                // Any free second up to now will do (a key that does not
                // open, under an old secret, may hold `now`).
                let mut from = now;
                while keys.iter().any(|k| k.alg == alg && k.signs_from == from) {
                    from -= 1;
                }
                self.make_in(&mut tx, alg, from, now + rotation, now)
                    .await?;
                last = last.max(Some(now + rotation));
            }
            let last = last.unwrap_or(now + rotation);
            if last - now <= ahead {
                self.make_in(&mut tx, alg, last, last + rotation, now)
                    .await?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn read(&self) -> Result<Vec<Arc<Key>>, Error> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT kid, alg, public_jwk, private_key, created_at, signs_from, signs_until \
             FROM signing_keys ORDER BY signs_from",
        )
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| self.key_of(row))
            .map(Arc::new)
            .collect())
    }

    fn key_of(&self, row: KeyRow) -> Option<Key> {
        let alg = Alg::parse(&row.alg)?;
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).ok()?;
        let decoding = DecodingKey::from_jwk(&jwk).ok()?;
        let encoding = self
            .tokens
            .open(&sealed_for(&row.kid), &row.private_key)
            .map(|der| alg.encoding(&der));
        if encoding.is_none() {
            tracing::warn!(kid = %row.kid, "a signing key does not open with this secret; it only verifies");
        }
        Some(Key {
            kid: row.kid,
            alg,
            signs_from: row.signs_from,
            signs_until: row.signs_until,
            created_at: row.created_at,
            encoding,
            decoding,
            jwk,
        })
    }

    /// Makes a key of `alg` that signs from `from` until `until` (nothing
    /// when another instance scheduled one for `from` already).
    async fn make_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        alg: Alg,
        from: i64,
        until: i64,
        now: i64,
    ) -> Result<(), Error> {
        let der = alg.generate();
        let mut jwk = Jwk::from_encoding_key(&alg.encoding(&der), alg.jwt())
            .map_err(|e| Error::internal().caused_by(e))?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| Error::internal().caused_by(e))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let public_jwk = serde_json::to_string(&jwk).map_err(|e| Error::internal().caused_by(e))?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, signs_from, signs_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (alg, signs_from) DO NOTHING",
        )
        .bind(&kid)
        .bind(alg.name())
        .bind(&public_jwk)
        .bind(self.tokens.seal(&sealed_for(&kid), &der))
        .bind(now)
        .bind(from)
        .bind(until)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from)?;
        tracing::info!(%kid, alg = alg.name(), from, until, "signing key made");
        Ok(())
    }
}

/// What a key's private part is sealed for: moved to another row, it does
/// not open.
fn sealed_for(kid: &str) -> String {
    format!("signing key {kid}")
}
