//! `/.well-known/jwks.json` and `server rotate-keys`.

use super::*;

/// A service that only has the JWKS can verify a Latchkey access token.
#[tokio::test]
async fn the_jwks_verifies_access_tokens_and_may_be_cached_for_an_hour() {
    let app = app(Backend::Sqlite).await;
    let (_, tokens) = api_signup(&app).await;
    let res = send(
        &app,
        Request::get("/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(body_json(res).await).unwrap();
    assert_eq!(set.keys.len(), 2);

    let token = tokens["access_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = set.find(&kid).expect("the token's key is published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["latchkey"]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()));
}

/// The real binary rotates the keys of a running deployment's database:
/// the next tokens name the new key, and the old ones keep working.
#[tokio::test]
async fn the_rotate_keys_command_switches_keys_and_old_tokens_still_verify() {
    let url = common::fresh_db_url(Backend::Sqlite).await;
    let config = latchkey_core::AuthConfig::for_tests();
    let services = latchkey_core::Services::new(
        common::connect(&url).await,
        std::sync::Arc::new(latchkey_core::MemoryStore::new()),
        config.clone(),
        common::letters(),
    );
    services.keys.ready().await.unwrap();
    let app = server::router::build(services.clone(), leptos_options(), ORIGIN);
    let (_, tokens) = api_signup(&app).await;
    let before = tokens["access_token"].as_str().unwrap().to_owned();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("rotate-keys")
        .env("DATABASE_URL", &url)
        .env(
            "LATCHKEY_SECRET",
            String::from_utf8(config.jwt_secret.clone()).unwrap(),
        )
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .output()
        .expect("run the server binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_kid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("EdDSA now signs with "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned();
    assert!(stdout.contains("ES256 now signs with "), "{stdout}");
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
    assert_ne!(new_kid, old_kid);

    // A fresh instance (or this one, within a minute) signs with the new key.
    let next = latchkey_core::Services::new(
        common::connect(&url).await,
        std::sync::Arc::new(latchkey_core::MemoryStore::new()),
        config,
        common::letters(),
    );
    next.keys.ready().await.unwrap();
    let next_app = server::router::build(next, leptos_options(), ORIGIN);
    let (_, tokens) = api_signup(&next_app).await;
    let after = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(after).unwrap().kid,
        Some(new_kid)
    );
    // The first instance learns the new key when a token names it.
    tokio::time::sleep(latchkey_core::signing_keys::UNKNOWN_KID_RELOAD).await;
    for (app, token) in [
        (&app, &before),
        (&app, &after.to_owned()),
        (&next_app, &before),
    ] {
        let res = send(app, bearer_get("/api/v1/me", token)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}
