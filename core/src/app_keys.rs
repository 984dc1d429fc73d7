//! Apps that prove themselves with a key instead of a secret
//! (`private_key_jwt`, OpenID Connect Core §9 and RFC 7523): the public keys
//! an admin registers for an app, checked once at registration, and the
//! signed assertions the app sends to the token, revocation and
//! introspection endpoints, checked against them.
//!
//! Keys are given inline (a JWK Set), never fetched from a URL: Latchkey
//! makes no request an admin's typo or an attacker could aim elsewhere.
//! Only Ed25519 (`EdDSA`) and P-256 (`ES256`) keys, as Latchkey signs with.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The most keys an app may register (room for a rotation's overlap).
pub const MAX_KEYS: usize = 5;
/// The longest an assertion may live: it is single use, and its id is
/// remembered until it expires, so a long-lived one costs memory.
pub const MAX_ASSERTION_LIFETIME: i64 = 600;

/// The key set, parsed (what is stored is its re-serialised form, so no
/// member Latchkey does not read is kept), or what is wrong, for the admin.
pub fn check_set(set: &serde_json::Value) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_value(set.clone())
        .map_err(|_| "a JWK Set: {\"keys\": [ … ]} of public keys".to_owned())?;
    if set.keys.is_empty() || set.keys.len() > MAX_KEYS {
        return Err(format!("1 to {MAX_KEYS} keys"));
    }
    for key in &set.keys {
        algorithm_of(key)?;
        DecodingKey::from_jwk(key).map_err(|_| "a key that does not parse".to_owned())?;
    }
    if set.keys.len() > 1 && set.keys.iter().any(|k| k.common.key_id.is_none()) {
        return Err("with several keys, each needs a kid".into());
    }
    let mut kids: Vec<_> = set
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.as_deref())
        .collect();
    kids.sort_unstable();
    if kids.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err("each key needs a kid of its own".into());
    }
    if set
        .keys
        .iter()
        .any(|k| k.common.public_key_use == Some(jsonwebtoken::jwk::PublicKeyUse::Encryption))
    {
        return Err("signing keys only (\"use\": \"sig\" or none)".into());
    }
    Ok(set)
}

/// The algorithm a key signs with: Ed25519 or P-256, public part only.
fn algorithm_of(key: &Jwk) -> Result<Algorithm, String> {
    match &key.algorithm {
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Ok(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Ok(Algorithm::ES256)
        }
        _ => Err("Ed25519 (EdDSA) or P-256 (ES256) keys only".into()),
    }
}

/// Whether a registered key set text holds a private part. `Jwk` drops
/// unknown members, so this looks at the JSON itself.
pub fn has_private_part(set: &serde_json::Value) -> bool {
    set["keys"]
        .as_array()
        .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some()))
}

#[derive(Debug, Deserialize)]
pub struct AssertionClaims {
    pub sub: String,
    pub jti: String,
    pub exp: i64,
    /// Checked to be one string, not a list (see `verify`).
    aud: serde_json::Value,
}

/// The `sub` an assertion names, before anything is verified (it says
/// which app's keys to verify it with).
pub fn claimed_app(assertion: &str) -> Option<String> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let payload = URL_SAFE_NO_PAD.decode(assertion.split('.').nth(1)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// Verifies `assertion` as `client_id`'s: signed by one of `keys` with
/// that key's algorithm, `iss` = `sub` = `client_id`, unexpired (and not
/// before its `nbf`), short-lived, and for `issuer` alone: its `aud` is
/// that one string, not an endpoint or a list, so an assertion the app was
/// tricked into making for another server's look-alike endpoint is no
/// good here (draft-ietf-oauth-rfc7523bis). The caller makes it single use.
pub fn verify(
    keys: &JwkSet,
    client_id: &str,
    issuer: &str,
    assertion: &str,
    now: i64,
) -> Option<AssertionClaims> {
    let header = decode_header(assertion).ok()?;
    let key = match &header.kid {
        Some(kid) => keys.find(kid)?,
        None if keys.keys.len() == 1 => &keys.keys[0],
        None => return None,
    };
    let alg = algorithm_of(key).ok()?;
    if header.alg != alg {
        return None;
    }
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[client_id]);
    validation.set_audience(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    let claims =
        decode::<AssertionClaims>(assertion, &DecodingKey::from_jwk(key).ok()?, &validation)
            .ok()?
            .claims;
    let fits = claims.sub == client_id
        && claims.aud.as_str() == Some(issuer)
        && !claims.jti.is_empty()
        && claims.jti.len() <= 200
        && claims.exp - now <= MAX_ASSERTION_LIFETIME;
    fits.then_some(claims)
}
