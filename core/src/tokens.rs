//! Access tokens (JWT, HS256, algorithm pinned) and opaque refresh tokens.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::model::Role;

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

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    refresh_key: Vec<u8>,
    code_key: Vec<u8>,
    device_key: Vec<u8>,
    /// Seals authenticator secrets at rest.
    seal_key: [u8; 32],
    issuer: String,
    audience: String,
    access_ttl: i64,
}

impl Tokens {
    /// Panics on a secret shorter than 32 bytes: every signature would be
    /// guessable (the server checks `LATCHKEY_SECRET` before it gets here).
    pub fn new(config: &AuthConfig) -> Self {
        assert!(
            config.jwt_secret.len() >= 32,
            "the signing secret must be at least 32 bytes"
        );
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        // Derive a separate key for refresh-token successors so the JWT key
        // is used for one purpose only.
        let refresh_key = hmac(&config.jwt_secret, b"latchkey refresh successor").to_vec();
        let code_key = hmac(&config.jwt_secret, b"latchkey one-time codes").to_vec();
        let device_key = hmac(&config.jwt_secret, b"latchkey device cookies").to_vec();
        let seal_key = hmac(&config.jwt_secret, b"latchkey sealed secrets");
        Self {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
            validation,
            refresh_key,
            code_key,
            device_key,
            seal_key,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_ttl.as_secs() as i64,
        }
    }

    pub fn issue_access(
        &self,
        user_id: &str,
        session_id: &str,
        role: Role,
        now: i64,
    ) -> (String, Claims) {
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            role,
            iat: now,
            exp: now + self.access_ttl,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, claims)
    }

    /// Checks signature (HS256 only), `exp`, `iss` and `aud`.
    pub fn verify_access(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The successor of a refresh token is derived from it with a server key,
    /// so a racing repeat within the grace window gets the *same* successor
    /// without the server ever storing a token in plain text.
    pub fn refresh_successor(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac(&self.refresh_key, token.as_bytes()))
    }
}

impl Tokens {
    /// What is stored for a one-time code: an HMAC bound to its purpose and
    /// address, useless without the server key (a bare hash of six digits
    /// would fall to a million guesses).
    pub fn code_digest(&self, purpose: &str, email: &str, code: &str) -> String {
        let mac = hmac(
            &self.code_key,
            format!("{purpose}\n{email}\n{code}").as_bytes(),
        );
        URL_SAFE_NO_PAD.encode(mac)
    }
}

impl Tokens {
    /// A device cookie's value for a browser that just signed in to
    /// `user_id`: `user.device.mac`. The MAC also covers `stamp` (the
    /// account's password hash), so every device cookie dies when the
    /// password changes, is reset or is cleared.
    pub fn device_token(&self, user_id: &str, stamp: &str) -> String {
        let device = uuid::Uuid::new_v4().simple().to_string();
        let mac = hmac(
            &self.device_key,
            format!("{user_id}.{device}\n{stamp}").as_bytes(),
        );
        format!("{user_id}.{device}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// `(user id, device id)` of a genuine device cookie, given the
    /// claimed account's current `stamp`.
    pub fn device_of<'t>(&self, token: &'t str, stamp: &str) -> Option<(&'t str, &'t str)> {
        let (signed, mac) = token.rsplit_once('.')?;
        let (user_id, device) = signed.split_once('.')?;
        let mut check =
            Hmac::<Sha256>::new_from_slice(&self.device_key).expect("HMAC takes any key length");
        check.update(format!("{signed}\n{stamp}").as_bytes());
        check
            .verify_slice(&URL_SAFE_NO_PAD.decode(mac).ok()?)
            .ok()?;
        Some((user_id, device))
    }
}

impl Tokens {
    /// `secret` encrypted and authenticated (XChaCha20-Poly1305, random
    /// nonce) and bound to `owner`: a sealed value moved to another row
    /// does not open.
    pub fn seal(&self, owner: &str, secret: &[u8]) -> String {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let cipher = XChaCha20Poly1305::new((&self.seal_key).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret,
            aad: owner.as_bytes(),
        };
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), payload)
            .expect("encrypting in memory cannot fail");
        URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// What `seal` sealed for `owner`; `None` when it was made with another
    /// key, for another owner, or altered.
    pub fn open(&self, owner: &str, sealed: &str) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce = XNonce::from(<[u8; 24]>::try_from(nonce).ok()?);
        let cipher = XChaCha20Poly1305::new((&self.seal_key).into());
        let payload = Payload {
            msg: sealed,
            aad: owner.as_bytes(),
        };
        cipher.decrypt(&nonce, payload).ok()
    }
}

/// A fresh 256-bit random token, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `token` has the shape of [`random_token`]'s output (32 bytes,
/// base64url without padding), before any lookup is spent on it.
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How tokens are stored: SHA-256, hex. Tokens are 256-bit random, so a
/// fast hash is enough (no dictionary to attack).
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&AuthConfig::for_tests())
    }

    fn now() -> i64 {
        crate::now()
    }

    #[test]
    fn device_cookies_are_signed() {
        let t = tokens();
        let token = t.device_token("user-1", "hash-a");
        let (user, device) = t.device_of(&token, "hash-a").unwrap();
        assert_eq!(user, "user-1");
        assert_eq!(device.len(), 32);
        assert_eq!(t.device_of(&token, "hash-b"), None, "a new password");
        let forged = token.replacen("user-1", "user-2", 1);
        assert_eq!(t.device_of(&forged, "hash-a"), None);
        assert_eq!(t.device_of("user-1.abc", "hash-a"), None);
        assert_eq!(t.device_of("", ""), None);
    }

    #[test]
    fn access_tokens_round_trip() {
        let t = tokens();
        let (jwt, claims) = t.issue_access("u1", "s1", Role::Admin, now());
        assert_eq!(t.verify_access(&jwt), Some(claims));
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let t = tokens();
        let (expired, _) = t.issue_access("u1", "s1", Role::User, now() - 3600);
        assert_eq!(t.verify_access(&expired), None);

        let (jwt, _) = t.issue_access("u1", "s1", Role::User, now());
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        let payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
        let forged = String::from_utf8(payload)
            .unwrap()
            .replace("\"user\"", "\"admin\"");
        parts[1] = URL_SAFE_NO_PAD.encode(forged);
        assert_eq!(t.verify_access(&parts.join(".")), None, "tampered payload");

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", jwt.split('.').nth(1).unwrap());
        assert_eq!(t.verify_access(&unsigned), None, "alg none");

        let mut other = AuthConfig::for_tests();
        other.jwt_secret = b"another-secret-another-secret-another".to_vec();
        let (foreign, _) = Tokens::new(&other).issue_access("u1", "s1", Role::User, now());
        assert_eq!(t.verify_access(&foreign), None, "wrong key");

        let mut other = AuthConfig::for_tests();
        other.audience = "someone-else".into();
        let (wrong_aud, _) = Tokens::new(&other).issue_access("u1", "s1", Role::User, now());
        assert_eq!(t.verify_access(&wrong_aud), None, "wrong aud");

        let mut other = AuthConfig::for_tests();
        other.issuer = "https://evil.example".into();
        let (wrong_iss, _) = Tokens::new(&other).issue_access("u1", "s1", Role::User, now());
        assert_eq!(t.verify_access(&wrong_iss), None, "wrong iss");
    }

    #[test]
    fn sealed_secrets_open_only_for_their_owner_and_key() {
        let t = Tokens::new(&AuthConfig::for_tests());
        let sealed = t.seal("u1", b"twenty bytes secret!");
        assert_ne!(
            sealed,
            t.seal("u1", b"twenty bytes secret!"),
            "random nonce"
        );
        assert_eq!(
            t.open("u1", &sealed).as_deref(),
            Some(&b"twenty bytes secret!"[..])
        );
        assert_eq!(t.open("u2", &sealed), None);
        let mut other = AuthConfig::for_tests();
        other.jwt_secret = b"another-secret-another-secret-another".to_vec();
        assert_eq!(Tokens::new(&other).open("u1", &sealed), None);
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(t.open("u1", std::str::from_utf8(&altered).unwrap()), None);
        assert_eq!(t.open("u1", "short"), None);
    }

    #[test]
    fn refresh_tokens_are_random_and_successors_deterministic() {
        let t = tokens();
        let a = random_token();
        assert_ne!(a, random_token());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(t.refresh_successor(&a), t.refresh_successor(&a));
        assert_ne!(t.refresh_successor(&a), a);
        assert_eq!(token_hash(&a).len(), 64);
    }
}
