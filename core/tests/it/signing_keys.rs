//! Token-signing keys: what the JWKS publishes, staged rotation across
//! instances, sealed private parts, and tokens from before signing keys.

use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use latchkey_core::model::Role;
use latchkey_core::signing_keys::{Alg, KeySchedule, UNKNOWN_KID_RELOAD};
use latchkey_core::{now, AccessTokens, AuthConfig, Db, SigningKeys, Tokens};
use serde_json::Value;

use super::*;

/// One instance's keys and access tokens over `db`.
fn instance(db: &Db, config: &AuthConfig) -> (Arc<SigningKeys>, AccessTokens) {
    let keys = Arc::new(SigningKeys::new(
        db.clone(),
        Arc::new(Tokens::new(config)),
        config.keys.clone(),
        config.access_ttl,
    ));
    let tokens = AccessTokens::new(config, keys.clone());
    (keys, tokens)
}

async fn token(tokens: &AccessTokens) -> String {
    tokens.issue("u1", "s1", Role::User, now()).await.unwrap().0
}

fn header_of(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).unwrap()
}

async fn jwks(keys: &Arc<SigningKeys>) -> Vec<Value> {
    let set = serde_json::to_value(keys.jwks().await.unwrap()).unwrap();
    set["keys"].as_array().unwrap().clone()
}

on_both_backends!(
    the_jwks_publishes_public_keys_only_and_tokens_name_theirs,
    |backend| {
        let db = common::fresh_db(backend).await;
        let config = AuthConfig::for_tests();
        let (keys, tokens) = instance(&db, &config);
        keys.ready().await.unwrap();
        let published = jwks(&keys).await;
        assert_eq!(published.len(), 2, "{published:?}");
        let ed = published.iter().find(|k| k["alg"] == "EdDSA").unwrap();
        assert_eq!(
            (&ed["kty"], &ed["crv"], &ed["use"]),
            (&"OKP".into(), &"Ed25519".into(), &"sig".into())
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(ed["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        let es = published.iter().find(|k| k["alg"] == "ES256").unwrap();
        assert_eq!(
            (&es["kty"], &es["crv"], &es["use"]),
            (&"EC".into(), &"P-256".into(), &"sig".into())
        );
        for key in &published {
            assert!(key.get("d").is_none(), "a private part is published: {key}");
            assert!(
                key["kid"].as_str().is_some_and(|kid| kid.len() == 43),
                "{key}"
            );
        }

        let jwt = token(&tokens).await;
        let header = header_of(&jwt);
        assert_eq!(header.alg, Algorithm::EdDSA);
        // The P-256 key is published for other apps' tokens; an access
        // token signed with it is not one Latchkey issues.
        let es256 = keys.signer(Alg::ES256).await.unwrap();
        let claims: Value = {
            let payload = jwt.split('.').nth(1).unwrap();
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
        };
        let mut es_header = Header::new(Algorithm::ES256);
        es_header.kid = Some(es256.kid.clone());
        let es_token = encode(&es_header, &claims, es256.encoding.as_ref().unwrap()).unwrap();
        assert_eq!(tokens.verify(&es_token).await.unwrap(), None);
        assert_eq!(header.kid.as_deref(), ed["kid"].as_str());
        // What a relying party does: verify with the published key alone.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(ed.clone()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[&config.audience]);
        let claims = jsonwebtoken::decode::<Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], "u1");

        // The private part is stored sealed, not as PKCS#8.
        let stored: Vec<String> = sqlx::query_scalar("SELECT private_key FROM signing_keys")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        for sealed in stored {
            let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
            assert!(bytes.len() > 24 + 16, "nonce and tag around the key");
            assert_ne!(&bytes[..2], &[0x30, 0x2e], "a bare PKCS#8 Ed25519 key");
            assert_ne!(&bytes[..2], &[0x30, 0x81], "a bare PKCS#8 P-256 key");
        }
    }
);

on_both_backends!(
    rotation_keeps_old_tokens_valid_and_other_instances_follow,
    |backend| {
        let db = common::fresh_db(backend).await;
        let config = AuthConfig::for_tests();
        let (a_keys, a) = instance(&db, &config);
        let (b_keys, b) = instance(&db, &config);
        a_keys.ready().await.unwrap();
        b_keys.ready().await.unwrap();
        let before = token(&a).await;
        assert_eq!(b.verify(&before).await.unwrap().unwrap().sub, "u1");

        // `server rotate-keys`, run by a third process.
        let (cli, _) = instance(&db, &config);
        cli.rotate().await.unwrap();
        let signer = cli.signer(Alg::EdDSA).await.unwrap();
        assert_ne!(Some(&signer.kid), header_of(&before).kid.as_ref());
        // A has not reread yet, so it keeps signing with the old key for up
        // to a minute; the old key stays published, so those tokens verify.
        let from_a = token(&a).await;
        assert_eq!(header_of(&from_a).kid, header_of(&before).kid);
        let fresh = AccessTokens::new(&config, cli.clone());
        let after = token(&fresh).await;
        assert_eq!(header_of(&after).kid.as_ref(), Some(&signer.kid));
        // B learns the new key the first time a token names it (it rereads at
        // most every 100 ms).
        tokio::time::sleep(UNKNOWN_KID_RELOAD).await;
        for jwt in [&before, &from_a, &after] {
            assert!(
                b.verify(jwt).await.unwrap().is_some(),
                "{:?}",
                header_of(jwt).kid
            );
        }
        // Both old and new keys are published.
        let kids: Vec<String> = jwks(&b_keys)
            .await
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            kids.contains(&signer.kid) && kids.contains(header_of(&before).kid.as_ref().unwrap())
        );
    }
);

on_both_backends!(a_successor_is_published_days_before_it_signs, |backend| {
    let db = common::fresh_db(backend).await;
    let mut config = AuthConfig::for_tests();
    config.keys = KeySchedule {
        rotation: Duration::from_secs(10 * 86_400),
        ahead: Duration::from_secs(12 * 86_400),
    };
    let (keys, tokens) = instance(&db, &config);
    keys.ready().await.unwrap();
    // The signing key ends within the pre-publication window: its
    // successor is made at once and published, but does not sign yet.
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT kid, alg, signs_from, signs_until FROM signing_keys WHERE alg = 'EdDSA' ORDER BY signs_from",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (current, next) = (&rows[0], &rows[1]);
    assert_eq!(
        next.2, current.3,
        "the successor takes over when the key stops"
    );
    assert!(next.2 > now() + 9 * 86_400);
    let published = jwks(&keys).await;
    assert!(published.iter().any(|k| k["kid"] == next.0.as_str()));
    assert_eq!(
        header_of(&token(&tokens).await).kid.as_ref(),
        Some(&current.0)
    );

    // Rotating now promotes the published successor.
    keys.rotate().await.unwrap();
    assert_eq!(header_of(&token(&tokens).await).kid.as_ref(), Some(&next.0));
});

on_both_backends!(
    instances_starting_together_agree_on_usable_keys,
    |backend| {
        let db = common::fresh_db(backend).await;
        let config = AuthConfig::for_tests();
        let instances: Vec<_> = (0..6).map(|_| instance(&db, &config)).collect();
        let ready = instances.iter().map(|(keys, _)| keys.ready());
        for result in futures::future::join_all(ready).await {
            result.unwrap();
        }
        tokio::time::sleep(UNKNOWN_KID_RELOAD).await;
        let mut issued = Vec::new();
        for (_, tokens) in &instances {
            issued.push(token(tokens).await);
        }
        for (_, tokens) in &instances {
            for jwt in &issued {
                assert!(tokens.verify(jwt).await.unwrap().is_some());
            }
        }
    }
);

on_both_backends!(keys_under_another_secret_only_verify, |backend| {
    let db = common::fresh_db(backend).await;
    let config = AuthConfig::for_tests();
    let (keys, tokens) = instance(&db, &config);
    keys.ready().await.unwrap();
    let old = token(&tokens).await;
    // The deployment secret changed: the stored keys do not open, so a new
    // one signs; tokens of the old ones still verify until they expire.
    let mut changed = AuthConfig::for_tests();
    changed.jwt_secret = b"a-new-secret-a-new-secret-a-new-secret".to_vec();
    let (new_keys, new_tokens) = instance(&db, &changed);
    new_keys.ready().await.unwrap();
    let new = token(&new_tokens).await;
    assert_ne!(header_of(&new).kid, header_of(&old).kid);
    assert!(new_tokens.verify(&old).await.unwrap().is_some());
    assert!(new_tokens.verify(&new).await.unwrap().is_some());
    // Keys it cannot open are left as they are: an instance still on the
    // old secret keeps signing with them, and its tokens verify here.
    let (_, old_instance) = instance(&db, &config);
    let still_old = token(&old_instance).await;
    assert_eq!(header_of(&still_old).kid, header_of(&old).kid);
    assert!(new_tokens.verify(&still_old).await.unwrap().is_some());
});

on_both_backends!(hs256_tokens_verify_only_from_before_the_keys, |backend| {
    let db = common::fresh_db(backend).await;
    let config = AuthConfig::for_tests();
    let (keys, tokens) = instance(&db, &config);
    keys.ready().await.unwrap();
    let first = keys.first_made().await.unwrap().unwrap();
    let hs256 = |iat: i64| {
        let claims = serde_json::json!({
            "sub": "u1", "sid": "s1", "role": "user", "iat": iat, "exp": now() + 600,
            "iss": config.issuer, "aud": config.audience, "jti": "j",
        });
        let key = EncodingKey::from_secret(&config.jwt_secret);
        encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    };
    let upgraded_from = hs256(first - 60);
    assert_eq!(
        tokens.verify(&upgraded_from).await.unwrap().unwrap().sub,
        "u1"
    );
    assert_eq!(tokens.verify(&hs256(first)).await.unwrap(), None);
    // Whoever holds the secret cannot mint a lasting one.
    assert_eq!(tokens.verify(&hs256(first - 86_400)).await.unwrap(), None);
});

on_both_backends!(a_remembered_token_is_matched_whole, |backend| {
    let db = common::fresh_db(backend).await;
    let config = AuthConfig::for_tests();
    let (keys, tokens) = instance(&db, &config);
    keys.ready().await.unwrap();
    let jwt = token(&tokens).await;
    assert!(tokens.verify(&jwt).await.unwrap().is_some());
    // Same signature, another payload: not served from what was verified.
    let (_, rest) = jwt.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let header = jwt.split('.').next().unwrap();
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"sub": "admin", "sid": "s1", "role": "admin", "iat": now(),
            "exp": now() + 600, "iss": config.issuer, "aud": config.audience, "jti": "j"})
        .to_string(),
    );
    let spliced = format!("{header}.{payload}.{signature}");
    assert_eq!(tokens.verify(&spliced).await.unwrap(), None);
    assert!(tokens.verify(&jwt).await.unwrap().is_some());
});
