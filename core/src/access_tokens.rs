//! Access tokens: JWTs signed with the current Ed25519 key (see
//! `signing_keys`), so any service can check one against the JWKS.
//!
//! Checking an Ed25519 signature costs tens of microseconds where the
//! HMAC it replaced cost one, so a token that verified once is remembered
//! (by its SHA-256) until it expires: a client sending the same token with
//! every request pays for the signature once. Only tokens that verified are
//! remembered, so forged ones cannot fill the memory.
//!
//! Tokens signed with the shared secret (HS256, Latchkey before signing
//! keys) still verify if they were issued before the first key was made,
//! so an upgrade signs nobody out.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, Header, Validation};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::error::Error;
use crate::model::Role;
use crate::signing_keys::{Alg, SigningKeys};

/// Verified tokens remembered per instance: about 4 MiB at most (some 400
/// bytes each). Past it, the least used are checked again when they return.
const REMEMBERED: u64 = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
}

pub struct AccessTokens {
    keys: Arc<SigningKeys>,
    /// HS256 under the deployment secret: only read, never made.
    legacy: DecodingKey,
    issuer: String,
    audience: String,
    ttl: i64,
    verified: Cache<[u8; 32], Arc<Claims>>,
}

impl AccessTokens {
    pub fn new(config: &AuthConfig, keys: Arc<SigningKeys>) -> Self {
        Self {
            keys,
            legacy: DecodingKey::from_secret(&config.jwt_secret),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: config.access_ttl.as_secs() as i64,
            verified: Cache::builder()
                .max_capacity(REMEMBERED)
                .time_to_live(config.access_ttl.max(Duration::from_secs(1)))
                .build(),
        }
    }

    pub async fn issue(
        &self,
        user_id: &str,
        session_id: &str,
        role: Role,
        now: i64,
    ) -> Result<(String, Claims), Error> {
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            role,
            iat: now,
            exp: now + self.ttl,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let key = self.keys.signer(Alg::EdDSA).await?;
        let mut header = Header::new(key.alg.jwt());
        header.kid = Some(key.kid.clone());
        let signing = key
            .encoding
            .as_ref()
            .expect("a signer has its private part");
        let token =
            encode(&header, &claims, signing).map_err(|e| Error::internal().caused_by(e))?;
        Ok((token, claims))
    }

    /// Checks the signature (EdDSA by a published Ed25519 key, or a
    /// legacy HS256 token), `exp`, `iss` and `aud`, and that the token
    /// lives no longer than an access token does. `Ok(None)`: not a valid
    /// token; `Err`: the keys could not be read.
    pub async fn verify(&self, token: &str) -> Result<Option<Claims>, Error> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.verified.get(&digest) {
            return Ok((claims.exp > crate::now()).then(|| Claims::clone(&claims)));
        }
        let Some(claims) = self.check(token).await? else {
            return Ok(None);
        };
        self.verified.insert(digest, Arc::new(claims.clone()));
        Ok(Some(claims))
    }

    async fn check(&self, token: &str) -> Result<Option<Claims>, Error> {
        let Ok(header) = decode_header(token) else {
            return Ok(None);
        };
        let claims = match header.alg {
            // Access tokens are only ever Ed25519 (the P-256 keys are for
            // other apps' tokens).
            Algorithm::EdDSA => {
                let Some(kid) = header.kid else {
                    return Ok(None);
                };
                match self.keys.verifier(&kid).await? {
                    Some(key) if key.alg == Alg::EdDSA => {
                        self.decode(token, &key.decoding, Algorithm::EdDSA)
                    }
                    _ => None,
                }
            }
            Algorithm::HS256 => {
                // Issued with the secret before the first key was made,
                // and checked only for one access lifetime after that:
                // whoever holds the secret cannot mint lasting ones.
                let first = self.keys.first_made().await?;
                self.decode(token, &self.legacy, Algorithm::HS256)
                    .filter(|claims| {
                        first.is_some_and(|first| {
                            claims.iat < first && crate::now() < first + self.ttl
                        })
                    })
            }
            _ => None,
        };
        // A token longer-lived than ours was not made here (or was made
        // with a leaked key to outlast its rotation).
        Ok(claims.filter(|c| c.exp - c.iat <= self.ttl))
    }

    fn decode(&self, token: &str, key: &DecodingKey, alg: Algorithm) -> Option<Claims> {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        decode::<Claims>(token, key, &validation)
            .ok()
            .map(|data| data.claims)
    }
}
