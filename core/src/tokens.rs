//! What the deployment secret keys: refresh-token successors, one-time
//! code digests, device cookies and sealed secrets. Access tokens are
//! signed with their own keys (`access_tokens`, `signing_keys`).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;

pub struct Tokens {
    refresh_key: Vec<u8>,
    code_key: Vec<u8>,
    device_key: Vec<u8>,
    /// Seals secrets at rest (authenticator apps, signing keys).
    seal_key: [u8; 32],
}

impl Tokens {
    /// Panics on a secret shorter than 32 bytes: every signature would be
    /// guessable (the server checks `LATCHKEY_SECRET` before it gets here).
    pub fn new(config: &AuthConfig) -> Self {
        assert!(
            config.jwt_secret.len() >= 32,
            "the signing secret must be at least 32 bytes"
        );
        // One key per purpose, derived from the secret; the secret itself
        // only checks access tokens from before signing keys.
        let refresh_key = hmac(&config.jwt_secret, b"latchkey refresh successor").to_vec();
        let code_key = hmac(&config.jwt_secret, b"latchkey one-time codes").to_vec();
        let device_key = hmac(&config.jwt_secret, b"latchkey device cookies").to_vec();
        let seal_key = hmac(&config.jwt_secret, b"latchkey sealed secrets");
        Self {
            refresh_key,
            code_key,
            device_key,
            seal_key,
        }
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
