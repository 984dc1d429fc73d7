//! The API as documented: every route in the OpenAPI document, bad input and bad tokens refused with the error shape on every endpoint.

use super::*;

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = app(Backend::Sqlite).await;
    let res = send(&app, page_get("/api/v1/openapi.json", "")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let doc = body_json(res).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/token"
    );
    let expected = [
        ("post", "/auth/signup"),
        ("post", "/auth/signup/verify"),
        ("post", "/auth/login"),
        ("post", "/auth/token"),
        ("post", "/auth/refresh"),
        ("post", "/auth/logout"),
        ("get", "/auth/token-info"),
        ("post", "/auth/code"),
        ("post", "/auth/code/verify"),
        ("get", "/me"),
        ("patch", "/me"),
        ("post", "/me/email/code"),
        ("post", "/me/email/verify"),
        ("post", "/me/email/change"),
        ("post", "/me/email/change/confirm"),
        ("post", "/email/revert"),
        ("get", "/me/sessions"),
        ("delete", "/me/sessions"),
        ("delete", "/me/sessions/{id}"),
        ("post", "/me/password"),
        ("post", "/me/delete"),
        ("post", "/password/forgot"),
        ("post", "/password/reset"),
        ("post", "/password/strength"),
        ("get", "/me/activity"),
        ("post", "/auth/login/second-factor"),
        ("get", "/me/second-factors"),
        ("post", "/me/second-factors/authenticator"),
        ("post", "/me/second-factors/authenticator/confirm"),
        ("post", "/me/second-factors/authenticator/remove"),
        ("post", "/me/second-factors/recovery-codes"),
        ("post", "/me/second-factors/step-up"),
        ("post", "/auth/passkey/options"),
        ("post", "/auth/passkey"),
        ("get", "/me/passkeys"),
        ("post", "/me/passkeys"),
        ("post", "/me/passkeys/options"),
        ("patch", "/me/passkeys/{id}"),
        ("post", "/me/passkeys/{id}/remove"),
        ("get", "/auth/providers"),
        ("get", "/me/identities"),
        ("post", "/me/identities/{provider}/remove"),
        ("get", "/me/identities/{provider}/token"),
        ("get", "/admin/users"),
        ("get", "/admin/users/{id}"),
        ("patch", "/admin/users/{id}"),
        ("delete", "/admin/users/{id}"),
        ("post", "/admin/users/{id}/password-reset"),
        ("delete", "/admin/users/{id}/sessions"),
        ("delete", "/admin/users/{id}/second-factors"),
        ("delete", "/admin/users/{id}/sessions/{session_id}"),
        ("get", "/admin/events"),
        ("get", "/admin/overview"),
        ("get", "/me/apps"),
        ("delete", "/me/apps/{client_id}"),
        ("get", "/admin/apps"),
        ("post", "/admin/apps"),
        ("get", "/admin/apps/{client_id}"),
        ("put", "/admin/apps/{client_id}"),
        ("delete", "/admin/apps/{client_id}"),
        ("post", "/admin/apps/{client_id}/secret"),
        ("get", "/admin/webhooks"),
        ("post", "/admin/webhooks"),
        ("get", "/admin/webhooks/{id}"),
        ("put", "/admin/webhooks/{id}"),
        ("delete", "/admin/webhooks/{id}"),
        ("post", "/admin/webhooks/{id}/secret"),
        ("get", "/admin/webhooks/{id}/deliveries"),
        (
            "post",
            "/admin/webhooks/{id}/deliveries/{message_id}/send-again",
        ),
        // The provider's, at the site's root.
        ("post", "/oauth/token"),
        ("get", "/oauth/userinfo"),
        ("post", "/oauth/userinfo"),
        ("post", "/oauth/revoke"),
        ("post", "/oauth/introspect"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let operations: usize = paths
        .values()
        .map(|p| {
            p.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "servers")
                .count()
        })
        .sum();
    assert_eq!(
        operations,
        expected.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (method, path) in expected {
        let op = &doc["paths"][path][method];
        assert!(op["responses"].is_object(), "{method} {path} is documented");
        assert!(op["summary"].is_string(), "{method} {path} has a summary");
        let server = &doc["paths"][path]["servers"][0]["url"];
        match path.starts_with("/oauth/") {
            true => assert_eq!(server, "/", "{path} is served from the root"),
            false => assert!(server.is_null(), "{path} is under /api/v1"),
        }
    }
    // Every schema a response names exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "TokenResponse",
        "ErrorBody",
        "AppError",
        "ErrorCode",
        "User",
        "SessionInfo",
        "Strength",
        "UserPage",
        "UserDetail",
        "ActivityPage",
        "EventKind",
        "SecondFactors",
        "AuthenticatorSetup",
        "RecoveryCodes",
        "SecondFactorBody",
        "TokenParams",
        "TokenSet",
        "OAuthErrorBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }

    let page = send(&app, page_get("/api/v1/docs", "")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(page).await;
    assert!(html.contains("POST /api/v1/auth/token"), "{html}");
    assert!(html.contains("DELETE /api/v1/me/sessions/{id}"));
    assert!(
        html.contains("POST /oauth/token"),
        "the provider's, at the root"
    );
}

/// Every documented endpoint, fed malformed input by a signed-in client,
/// answers 4xx with an error body: never 5xx, never a stack trace.
#[tokio::test]
async fn every_endpoint_refuses_bad_input_with_the_error_shape() {
    let app = app(Backend::Sqlite).await;
    let (_, tokens) = api_signup(&app).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let doc = body_json(send(&app, page_get("/api/v1/openapi.json", "")).await).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let base = item["servers"][0]["url"]
            .as_str()
            .map_or("/api/v1", |root| root.trim_end_matches('/'));
        for (method, op) in item.as_object().unwrap() {
            // Endpoints without a body (log out, …) have none to get wrong.
            if op["requestBody"].is_null() {
                continue;
            }
            let uri = format!("{base}{}", path.replace("{id}", "no-such-id"));
            let bodies: [(&str, String); 5] = [
                ("application/json", "{not json".into()),
                ("application/json", r#"{"unexpected": true}"#.into()),
                (
                    "application/json",
                    r#"{"email": 5, "password": [], "token": {}, "code": 1.5}"#.into(),
                ),
                ("text/plain", "hello".into()),
                (
                    "application/json",
                    format!(r#"{{"x": "{}"}}"#, "y".repeat(100_000)),
                ),
            ];
            for (content_type, body) in bodies {
                let req = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri)
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::AUTHORIZATION, format!("Bearer {access}"))
                    .body(Body::from(body.clone()))
                    .unwrap();
                let res = send(&app, req).await;
                let status = res.status();
                let text = body_text(res).await;
                assert!(
                    status.is_client_error(),
                    "{method} {uri} with {content_type} {:.40} → {status}: {text}",
                    body
                );
                let json: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {uri} → {status}: not JSON: {text}"));
                assert!(!json["error"].is_null(), "{method} {uri}: {json}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 5 * 14, "checked {checked} requests");
}

/// Forged, foreign and stale access tokens are refused on every endpoint
/// that needs one, with `WWW-Authenticate`.
#[tokio::test]
async fn bad_bearer_tokens_are_refused() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use latchkey_core::{now, AccessTokens, AuthConfig};
    let s = common::services(Backend::Sqlite).await;
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let (_, tokens) = api_signup(&app).await;
    let good = tokens["access_token"].as_str().unwrap().to_owned();
    let me = body_json(send(&app, bearer_get("/api/v1/auth/token-info", &good)).await).await;
    let (user, sid) = (
        me["user_id"].as_str().unwrap(),
        me["session_id"].as_str().unwrap(),
    );

    // Signed with this deployment's own keys, under other settings.
    let signed = |change: &dyn Fn(&mut AuthConfig), at: i64| {
        let mut config = AuthConfig::for_tests();
        change(&mut config);
        let tokens = AccessTokens::new(&config, s.keys.clone());
        async move {
            tokens
                .issue(user, sid, app::model::Role::Admin, at)
                .await
                .unwrap()
                .0
        }
    };
    // Another deployment: its own database, so its own keys.
    let elsewhere = common::services(Backend::Sqlite).await;
    let foreign = elsewhere
        .access_tokens
        .issue(user, sid, app::model::Role::Admin, now())
        .await
        .unwrap()
        .0;
    let kid_of = |token: &str| {
        let header = jsonwebtoken::decode_header(token).unwrap();
        header.kid.unwrap()
    };
    // The foreign signature under the name of one of our keys.
    let mut header = jsonwebtoken::decode_header(&foreign).unwrap();
    header.kid = Some(kid_of(&good));
    let posing = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        foreign.split_once('.').unwrap().1
    );
    // The shared secret signed tokens before signing keys; one made now is
    // not one of those.
    let claims: Value = {
        let payload = good.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let hs256 = |secret: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut tampered_payload = payload.to_owned();
    let last = tampered_payload.pop().unwrap();
    tampered_payload.push(if last == 'A' { 'B' } else { 'A' });
    let cases = [
        (
            "alg none",
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        ),
        (
            "tampered payload",
            format!("{head}.{tampered_payload}.{signature}"),
        ),
        ("another deployment's key", foreign.clone()),
        ("a foreign signature posing as our key", posing),
        (
            "HS256 with the secret, after the keys",
            hs256(&AuthConfig::for_tests().jwt_secret),
        ),
        (
            "HS256 with another secret",
            hs256(b"another-secret-another-secret-12345"),
        ),
        (
            "wrong audience",
            signed(&|c| c.audience = "someone-else".into(), now()).await,
        ),
        (
            "wrong issuer",
            signed(&|c| c.issuer = "https://evil.example".into(), now()).await,
        ),
        ("expired", signed(&|_| {}, now() - 3600).await),
    ];
    assert_eq!(kid_of(&cases[8].1), kid_of(&good), "signed by our key");
    for (what, token) in cases {
        for uri in [
            "/api/v1/me",
            "/api/v1/auth/token-info",
            "/api/v1/me/sessions",
        ] {
            let res = send(&app, bearer_get(uri, &token)).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what} on {uri}");
            assert!(
                res.headers().contains_key(header::WWW_AUTHENTICATE),
                "{what}"
            );
            assert_error(&body_json(res).await, "unauthorized");
        }
    }
    assert_eq!(
        send(&app, bearer_get("/api/v1/me", &good)).await.status(),
        StatusCode::OK
    );
}

/// PostgreSQL cannot store NUL characters: text carrying one is the
/// client's mistake (4xx), wherever it comes in.
#[tokio::test]
async fn nul_characters_are_refused_not_a_server_error() {
    let s = common::services(Backend::Postgres).await;
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let admin = common::make_admin(&s).await;
    let token = admin.issued.access_token.as_str();
    let requests = [
        json_post(
            "/api/v1/auth/login",
            json!({"login": "ad\u{0}min", "password": "whatever it is"}),
        ),
        json_post("/api/v1/auth/code", json!({"email": "a\u{0}@example.com"})),
        bearer_get("/api/v1/admin/users/a%00b", token),
        bearer_delete("/api/v1/me/sessions/a%00b", token),
        Request::post("/fn/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .body(Body::from("login=ad%00min&password=whatever"))
            .unwrap(),
    ];
    for req in requests {
        let uri = req.uri().to_string();
        let res = send(&app, req).await;
        let status = res.status();
        let body = body_text(res).await;
        assert!(status.is_client_error(), "{uri} → {status}: {body}");
    }
    // In a query string it is a malformed request, the 400 that every
    // operation with a query documents.
    for uri in [
        "/api/v1/admin/users?q=a%00b",
        "/api/v1/admin/events?before=a%00b",
        "/api/v1/me/activity?before=%00",
    ] {
        let res = send(&app, bearer_get(uri, token)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            body_json(res).await["error"]["code"],
            "bad_request",
            "{uri}"
        );
    }
}
