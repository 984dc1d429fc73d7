//! The OpenID Connect provider over HTTP, as a browser and an app drive it:
//! discovery, authorize → sign in → consent → code, the token endpoint's
//! client authentication and error shapes, userinfo, the admin API.

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

use super::*;

const REDIRECT: &str = "https://notes.example.com/callback";
const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

fn location(res: &axum::http::Response<Body>) -> String {
    res.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An admin registers an app over the API; its client_id and secret.
async fn register(
    app: &Router,
    s: &latchkey_core::Services,
    confidential: bool,
) -> (String, Option<String>) {
    let admin = common::make_admin(s).await;
    let res = send(
        app,
        bearer_post(
            "/api/v1/admin/apps",
            &admin.issued.access_token,
            json!({
                "name": "Notes",
                "redirect_uris": [REDIRECT],
                "confidential": confidential,
                "scopes": ["openid", "email", "profile"],
                "grant_types": ["authorization_code"],
            }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body = body_json(res).await;
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_what_they_support() {
    let app = app(Backend::Sqlite).await;
    let res = send(
        &app,
        Request::get("/.well-known/openid-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc = body_json(res).await;
    // OpenID Connect Discovery 1.0 §3: the required members.
    for member in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(!doc[member].is_null(), "{member}: {doc}");
    }
    assert_eq!(doc["issuer"], ORIGIN);
    assert_eq!(doc["jwks_uri"], format!("{ORIGIN}/.well-known/jwks.json"));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    for (member, path) in [
        ("revocation_endpoint", "/oauth/revoke"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("end_session_endpoint", "/oauth/logout"),
        ("userinfo_endpoint", "/oauth/userinfo"),
    ] {
        assert_eq!(doc[member], format!("{ORIGIN}{path}"));
    }
}

/// A browser signs in to an app through Latchkey: not signed in, so to the
/// log-in page; after it, consent; allowed, a code back at the app; the
/// app's server trades it for tokens and reads userinfo.
#[tokio::test]
async fn a_browser_signs_in_to_an_app_through_login_and_consent() {
    let s = common::services(Backend::Sqlite).await;
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let (client_id, _) = register(&app, &s, false).await;
    let (name, tokens) = api_signup(&app).await;
    let email = format!("{name}@example.com");
    let session = format!("lk_access={}", tokens["access_token"].as_str().unwrap());

    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let authorize = format!(
        "/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email&state=xyz&nonce=abc&code_challenge={challenge}&code_challenge_method=S256",
        enc(REDIRECT)
    );
    // Signed out: parked, and on to the log-in page.
    let res = send(&app, page_get(&authorize, "")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let parked = cookie_jar(&res);
    assert!(parked.starts_with("lk_authorize="), "{parked}");

    // Signed in (as the log-in form would have), the first page resumes.
    let cookies = format!("{session}; {parked}");
    // A visitor's page, even one sent to another page by `next`, lands
    // on the profile too: the authorization goes on from there.
    for page in ["/login", "/signup?next=%2Fsecurity"] {
        let res = send(&app, page_get(page, &cookies)).await;
        assert_eq!(location(&res), "/profile", "{page}");
    }
    let res = send(&app, page_get("/login?next=%2Fsecurity", &session)).await;
    assert_eq!(location(&res), "/security", "nothing waits: on to next");
    let res = send(&app, page_get("/profile", &cookies)).await;
    assert_eq!(location(&res), "/oauth/resume");
    let res = send(&app, page_get("/oauth/resume", &cookies)).await;
    let consent = location(&res);
    assert!(consent.starts_with("/oauth/consent?request="), "{consent}");
    assert!(
        res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("lk_authorize=;"),
        "the parked request is taken once"
    );

    // The consent page names the app and what it asks for.
    let res = send(&app, page_get(&consent, &session)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = body_text(res).await;
    assert!(
        page.contains("Notes") && page.contains("wants to sign you in"),
        "{page:.2000}"
    );
    assert!(page.contains("See your email address"));

    let request = query_of(&format!("{ORIGIN}{consent}"))["request"].clone();
    let res = send(
        &app,
        form_post(
            "/fn/decide_consent",
            &format!("request={}&allow=true", enc(&request)),
            Some(&session),
        ),
    )
    .await;
    let back = location(&res);
    assert!(back.starts_with(REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("xyz", ORIGIN));

    // The app trades the code (a public app: PKCE, no secret), from its
    // own origin.
    let res = send(
        &app,
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, "https://notes.example.com")
            .body(Body::from(format!(
                "grant_type=authorization_code&code={}&redirect_uri={}&client_id={client_id}&code_verifier={VERIFIER}",
                q["code"],
                enc(REDIRECT)
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let granted = body_json(res).await;
    assert!(granted["id_token"].is_string(), "{granted}");
    let access = granted["access_token"].as_str().unwrap();

    let res = send(&app, bearer_get("/oauth/userinfo", access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let info = body_json(res).await;
    assert_eq!(info["email"], email.as_str());

    // The app's token opens nothing of Latchkey's own API.
    let res = send(&app, bearer_get("/api/v1/me", access)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_requests_stay_on_latchkey_and_token_errors_follow_the_rfc() {
    let s = common::services(Backend::Sqlite).await;
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let (client_id, secret) = register(&app, &s, true).await;
    let secret = secret.expect("a confidential app's secret, shown once");

    for (query, why) in [
        (
            format!("client_id=nobody&redirect_uri={}", enc(REDIRECT)),
            "unknown_app",
        ),
        (
            format!(
                "client_id={client_id}&redirect_uri={}",
                enc("https://evil.example/cb")
            ),
            "bad_redirect",
        ),
    ] {
        let res = send(
            &app,
            page_get(
                &format!("/oauth/authorize?{query}&response_type=code&scope=openid"),
                "",
            ),
        )
        .await;
        assert_eq!(location(&res), format!("/oauth/problem?why={why}"));
    }
    let res = send(&app, page_get("/oauth/problem?why=bad_redirect", "")).await;
    assert!(body_text(res).await.contains("did not register"));

    let token = |auth: Option<String>, form: String| {
        let mut req = Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        req.body(Body::from(form)).unwrap()
    };
    let basic =
        |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    // A wrong secret in Basic: 401 with a Basic challenge.
    let res = send(
        &app,
        token(
            Some(basic(&client_id, "wrong")),
            "grant_type=authorization_code&code=x".into(),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(body_json(res).await["error"], "invalid_client");
    // The right one (client_secret_basic), a dead code: invalid_grant.
    let res = send(
        &app,
        token(
            Some(basic(&client_id, &secret)),
            format!(
                "grant_type=authorization_code&code=dead&redirect_uri={}",
                enc(REDIRECT)
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(res).await["error"], "invalid_grant");
    // client_secret_post works too; the password grant is not for apps.
    let res = send(&app, token(None, format!("grant_type=password&username=a&password=b&client_id={client_id}&client_secret={secret}"))).await;
    assert_eq!(body_json(res).await["error"], "unsupported_grant_type");
    // Not a form at all.
    let res = send(
        &app,
        json_post("/oauth/token", json!({"grant_type": "client_credentials"})),
    )
    .await;
    assert_eq!(body_json(res).await["error"], "invalid_request");
    // userinfo without or with a bad token.
    let res = send(
        &app,
        Request::get("/oauth/userinfo").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = send(&app, bearer_get("/oauth/userinfo", "not-a-token")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    // Introspection (with the secret) and revocation answer junk calmly.
    let res = send(&app, {
        let mut req = form_api_post("/oauth/introspect", "token=junk");
        req.headers_mut().insert(
            header::AUTHORIZATION,
            basic(&client_id, &secret).parse().unwrap(),
        );
        req
    })
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_json(res).await, json!({"active": false}));
    let res = send(
        &app,
        form_api_post(
            "/oauth/revoke",
            &format!("token=junk&client_id={client_id}&client_secret={secret}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        &app,
        form_api_post(
            "/oauth/introspect",
            &format!("token=junk&client_id={client_id}&client_secret=wrong"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Signing out through an app needs an ID token naming this session.
    let res = send(
        &app,
        page_get(
            "/oauth/logout?id_token_hint=junk&post_logout_redirect_uri=https%3A%2F%2Fevil.example",
            "",
        ),
    )
    .await;
    assert_eq!(location(&res), "/");

    // The admin API: list, change, new secret, delete; users may not.
    let admin = common::make_admin(&s).await;
    let token_of = admin.issued.access_token.as_str();
    let res = send(&app, bearer_get("/api/v1/admin/apps", token_of)).await;
    let list = body_json(res).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["client_id"] == client_id.as_str()));
    assert!(!list.to_string().contains(&secret), "secrets never listed");
    let (_, user_tokens) = api_signup(&app).await;
    let res = send(
        &app,
        bearer_get(
            "/api/v1/admin/apps",
            user_tokens["access_token"].as_str().unwrap(),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = send(
        &app,
        bearer_post(
            &format!("/api/v1/admin/apps/{client_id}/secret"),
            token_of,
            json!({}),
        ),
    )
    .await;
    let renewed = body_json(res).await["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = send(
        &app,
        token(
            Some(basic(&client_id, &secret)),
            "grant_type=authorization_code&code=x".into(),
        ),
    )
    .await;
    assert_eq!(
        body_json(res).await["error"],
        "invalid_client",
        "the old secret died"
    );
    let res = send(
        &app,
        token(
            Some(basic(&client_id, &renewed)),
            "grant_type=authorization_code&code=x".into(),
        ),
    )
    .await;
    assert_eq!(body_json(res).await["error"], "invalid_grant");
    let res = send(
        &app,
        bearer_delete(&format!("/api/v1/admin/apps/{client_id}"), token_of),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(
        &app,
        bearer_get(&format!("/api/v1/admin/apps/{client_id}"), token_of),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// An app registered with its public key over the admin API proves itself
/// at the token endpoint with a form-posted `client_assertion`.
#[tokio::test]
async fn an_app_with_a_key_gets_a_token_with_a_signed_assertion() {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let s = common::services(Backend::Sqlite).await;
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let admin = common::make_admin(&s).await;
    let res = send(
        &app,
        bearer_post(
            "/api/v1/admin/apps",
            &admin.issued.access_token,
            json!({
                "name": "Reports",
                "redirect_uris": [],
                "confidential": true,
                "scopes": ["openid"],
                "grant_types": ["client_credentials"],
                "jwks": {"keys": [{
                    "kty": "OKP", "crv": "Ed25519", "kid": "reports-1",
                    "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
                }]},
            }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body = body_json(res).await;
    assert!(body["client_secret"].is_null(), "{body}");
    assert_eq!(body["auth_method"], "private_key_jwt");
    let client_id = body["client_id"].as_str().unwrap().to_owned();

    let der = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_der()
    .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("reports-1".into());
    let now = latchkey_core::now();
    let jwt = jsonwebtoken::encode(
        &header,
        &json!({
            "iss": client_id, "sub": client_id, "aud": ORIGIN,
            "jti": "one-use", "iat": now, "exp": now + 60,
        }),
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap();
    let form = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={jwt}",
        enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let res = send(&app, form_api_post("/oauth/token", &form)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_json(res).await["access_token"].is_string());
    // Good once.
    let res = send(&app, form_api_post("/oauth/token", &form)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(res).await["error"], "invalid_client");
}
