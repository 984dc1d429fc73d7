//! Signing in with GitHub, Naver, Kakao and Google, each against a small
//! loopback server that answers as that provider documents (paths, field
//! names, status codes and refusals from their public API references):
//! this deployment's code exchange and profile calls cross real TCP; the
//! browser's steps are driven here. The same flows run against each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Json;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use sha2::{Digest, Sha256};

use super::*;

const CLIENT_ID: &str = "shape-client";
const CLIENT_SECRET: &str = "shape-secret";
/// The key the OpenID Connect shapes sign ID tokens with (RS256, as Kakao
/// and Google do); a test key, made for these tests only.
const RSA_KEY: &[u8] = include_bytes!("shape-rsa-key.der");
/// A key the provider never published: a forger's.
const OTHER_RSA_KEY: &[u8] = include_bytes!("shape-rsa-other.der");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GitHub,
    Naver,
    Kakao,
    Google,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::GitHub, Kind::Naver, Kind::Kakao, Kind::Google];

    fn id(self) -> &'static str {
        match self {
            Kind::GitHub => "github",
            Kind::Naver => "naver",
            Kind::Kakao => "kakao",
            Kind::Google => "google",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::GitHub => "GitHub",
            Kind::Naver => "Naver",
            Kind::Kakao => "Kakao",
            Kind::Google => "Google",
        }
    }

    /// Its authorization endpoint's path.
    fn authorize(self) -> &'static str {
        match self {
            Kind::GitHub => "/login/oauth/authorize",
            Kind::Naver => "/oauth2.0/authorize",
            Kind::Kakao => "/oauth/authorize",
            Kind::Google => "/o/oauth2/v2/auth",
        }
    }

    /// An address it vouches for: Naver only for its own mailboxes.
    fn address(self) -> String {
        match self {
            Kind::Naver => format!("{}@naver.com", unique_name()),
            _ => format!("{}@example.com", unique_name()),
        }
    }
}

/// Someone with an account at the provider.
#[derive(Debug, Clone)]
struct Person {
    /// GitHub's is a number; the others' are strings.
    id: String,
    login: String,
    email: Option<String>,
    verified: bool,
}

impl Person {
    fn new(kind: Kind, verified: bool) -> Self {
        Self {
            id: (rand::random::<u32>() as u64 + 1).to_string(),
            login: unique_name(),
            // Naver's unverifiable kind: an address the member typed.
            email: Some(match (kind, verified) {
                (Kind::Naver, false) => format!("{}@example.com", unique_name()),
                _ => kind.address(),
            }),
            verified,
        }
    }
}

struct Grant {
    person: Person,
    redirect_uri: String,
    state: String,
    challenge: Option<String>,
    nonce: Option<String>,
}

/// What the provider holds and how it is told to behave.
#[derive(Default)]
struct Book {
    /// Who is signed in there.
    person: Option<Person>,
    /// They press "cancel" on its consent screen.
    cancel: bool,
    /// Its token endpoint refuses every code (as for one spent or stale).
    refuse_codes: bool,
    /// Its profile endpoint refuses every token (as for one revoked).
    refuse_tokens: bool,
    /// The ID tokens it hands out are forged.
    forge: Option<Forgery>,
    /// It rotated its signing key: it signs with a newer one, under a new
    /// key id, and publishes only that.
    rotated: bool,
    /// How many times its published keys were fetched.
    key_fetches: usize,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Person>,
}

/// What a forged ID token is signed with.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    /// A key the provider did not publish, under the published key's id.
    OtherKey,
    /// HS256 keyed with our own client secret, which the forger may know.
    ClientSecret,
}

struct Shape {
    kind: Kind,
    url: String,
    book: Mutex<Book>,
    key: EncodingKey,
}

type Shared = State<Arc<Shape>>;

impl Shape {
    async fn start(kind: Kind) -> (Arc<Self>, Router) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shape = Arc::new(Shape {
            kind,
            url,
            book: Mutex::default(),
            key: EncodingKey::from_rsa_der(RSA_KEY),
        });
        let routes = Router::new().route(kind.authorize(), get(authorize));
        let routes = match kind {
            Kind::GitHub => routes
                .route("/login/oauth/access_token", post(token))
                .route("/api/v3/user", get(profile))
                .route("/api/v3/user/emails", get(github_emails)),
            Kind::Naver => routes
                .route("/oauth2.0/token", post(token))
                .route("/v1/nid/me", get(profile)),
            Kind::Kakao => routes
                .route("/.well-known/openid-configuration", get(discovery))
                .route("/.well-known/jwks.json", get(jwks))
                .route("/oauth/token", post(token))
                .route("/v1/oidc/userinfo", get(profile)),
            Kind::Google => routes
                .route("/.well-known/openid-configuration", get(discovery))
                .route("/oauth2/v3/certs", get(jwks))
                .route("/token", post(token))
                .route("/v1/userinfo", get(profile)),
        };
        let router = routes.with_state(shape.clone());
        let serving = router.clone();
        tokio::spawn(async move { axum::serve(listener, serving).await });
        (shape, router)
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap()
    }

    /// The provider as this deployment's settings turn it on: its preset,
    /// pointed at this server.
    fn provider(&self) -> Provider {
        let id = self.kind.id().to_uppercase();
        let address = match self.kind {
            Kind::GitHub | Kind::Naver => format!("UPSTREAM_{id}_URL"),
            Kind::Kakao | Kind::Google => format!("UPSTREAM_{id}_ISSUER"),
        };
        let get = |key: &str| {
            let value = match key.strip_prefix(&format!("UPSTREAM_{id}_")) {
                Some("CLIENT_ID") => CLIENT_ID.to_owned(),
                Some("CLIENT_SECRET") => CLIENT_SECRET.to_owned(),
                _ if key == address => self.url.clone(),
                _ => return None,
            };
            Some(value)
        };
        let mut problems = Vec::new();
        let mut providers = server::upstream::read(&get, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(providers.len(), 1);
        providers.remove(0)
    }
}

fn random() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn back_to(kind: Kind) -> String {
    format!("{ORIGIN}/login/with/{}/back", kind.id())
}

/// The authorization endpoint: the person signed in there allows (or
/// cancels) and is sent back with a code.
async fn authorize(
    State(shape): Shared,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect_uri = param("redirect_uri");
    if param("client_id") != CLIENT_ID
        || redirect_uri != back_to(shape.kind)
        || param("response_type") != "code"
    {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect_uri").into_response();
    }
    // Stricter than the providers (GitHub takes PKCE without needing it):
    // a client that stopped sending it, or the nonce, fails here.
    let pkce = param("code_challenge_method") == "S256" && !param("code_challenge").is_empty();
    let asked_right = match shape.kind {
        Kind::Naver => true,
        Kind::GitHub => pkce,
        Kind::Kakao | Kind::Google => pkce && !param("nonce").is_empty(),
    };
    if !asked_right {
        return (StatusCode::BAD_REQUEST, "PKCE (and a nonce) expected").into_response();
    }
    let state = param("state");
    let state_enc: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    let mut book = shape.book();
    if book.cancel {
        let description = match shape.kind {
            Kind::GitHub => "The+user+has+denied+your+application+access.",
            Kind::Naver => "Canceled+By+User",
            Kind::Kakao => "User+denied+access",
            Kind::Google => "",
        };
        return Redirect::to(&format!(
            "{redirect_uri}?error=access_denied&error_description={description}&state={state_enc}"
        ))
        .into_response();
    }
    let person = book
        .person
        .clone()
        .expect("someone signed in at the provider");
    let code = random();
    let grant = Grant {
        person,
        redirect_uri: redirect_uri.clone(),
        state,
        challenge: q.get("code_challenge").cloned(),
        nonce: q.get("nonce").cloned(),
    };
    book.codes.insert(code.clone(), grant);
    Redirect::to(&format!("{redirect_uri}?code={code}&state={state_enc}")).into_response()
}

/// The token endpoint: the code, the client's credentials (in the form;
/// Google also takes HTTP Basic, Kakao only the form), the redirect URI,
/// PKCE where it was begun with, Naver's state.
async fn token(
    State(shape): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let kind = shape.kind;
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let credentials = match (kind, basic) {
        (Kind::Google, Some(pair)) => pair == format!("{CLIENT_ID}:{CLIENT_SECRET}"),
        (Kind::Kakao, Some(_)) => false,
        _ => field("client_id") == CLIENT_ID && field("client_secret") == CLIENT_SECRET,
    };
    if !credentials {
        return refusal(kind, "invalid_client");
    }
    let grant = {
        let mut book = shape.book();
        let refused = book.refuse_codes;
        book.codes.remove(&field("code")).filter(|_| !refused)
    };
    let Some(grant) = grant else {
        return refusal(kind, "invalid_grant");
    };
    let verifier_ok = match &grant.challenge {
        Some(challenge) => {
            let hash = Sha256::digest(field("code_verifier").as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash) == *challenge
        }
        None => true,
    };
    let bound_ok = match kind {
        Kind::Naver => field("state") == grant.state,
        _ => field("redirect_uri") == grant.redirect_uri,
    };
    if !verifier_ok || !bound_ok {
        return refusal(kind, "invalid_grant");
    }
    let access = random();
    shape
        .book()
        .tokens
        .insert(access.clone(), grant.person.clone());
    match kind {
        Kind::GitHub => Json(json!({
            "access_token": format!("gho_{access}"),
            "token_type": "bearer",
            "scope": "read:user,user:email",
        }))
        .into_response(),
        // Naver's numbers are strings.
        Kind::Naver => Json(json!({
            "access_token": access,
            "refresh_token": random(),
            "token_type": "bearer",
            "expires_in": "3600",
        }))
        .into_response(),
        Kind::Kakao | Kind::Google => {
            let mut answer = json!({
                "access_token": access,
                "token_type": "Bearer",
                "id_token": id_token(&shape, &grant),
                "expires_in": 3599,
                "scope": "openid",
            });
            if kind == Kind::Kakao {
                answer["token_type"] = json!("bearer");
                answer["expires_in"] = json!(7199);
                answer["refresh_token"] = json!(random());
                answer["refresh_token_expires_in"] = json!(5183999);
            }
            Json(answer).into_response()
        }
    }
}

/// The token endpoint's refusal, as each provider words it.
fn refusal(kind: Kind, error: &str) -> axum::response::Response {
    match kind {
        // GitHub and Naver refuse with 200.
        Kind::GitHub => Json(json!({
            "error": match error {
                "invalid_grant" => "bad_verification_code",
                _ => "incorrect_client_credentials",
            },
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
        }))
        .into_response(),
        Kind::Naver => Json(json!({
            "error": "invalid_request",
            "error_description": "no valid data in session",
        }))
        .into_response(),
        Kind::Kakao => {
            let (status, code) = match error {
                "invalid_client" => (StatusCode::UNAUTHORIZED, "KOE010"),
                _ => (StatusCode::BAD_REQUEST, "KOE320"),
            };
            let body = json!({
                "error": error,
                "error_description": "authorization code not found for code",
                "error_code": code,
            });
            (status, Json(body)).into_response()
        }
        Kind::Google => {
            let body = json!({ "error": error, "error_description": "Bad Request" });
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

/// The ID token: Google's says whether the address is verified; Kakao's
/// carries the address but not that (its userinfo does).
fn id_token(shape: &Shape, grant: &Grant) -> String {
    let now = latchkey_core::now();
    let person = &grant.person;
    let mut claims = json!({
        "iss": shape.url,
        "aud": CLIENT_ID,
        "sub": person.id,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "nonce": grant.nonce,
    });
    match shape.kind {
        Kind::Google => {
            claims["azp"] = json!(CLIENT_ID);
            claims["name"] = json!(person.login);
            if let Some(email) = &person.email {
                claims["email"] = json!(email);
                claims["email_verified"] = json!(person.verified);
            }
        }
        _ => {
            claims["nickname"] = json!(person.login);
            if let Some(email) = &person.email {
                claims["email"] = json!(email);
            }
        }
    }
    let (forge, rotated) = {
        let book = shape.book();
        (book.forge, book.rotated)
    };
    let (alg, key, kid) = match forge {
        None => signing_key(shape, rotated),
        Some(Forgery::OtherKey) => (
            Algorithm::RS256,
            EncodingKey::from_rsa_der(OTHER_RSA_KEY),
            "shape-key",
        ),
        Some(Forgery::ClientSecret) => (
            Algorithm::HS256,
            EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
            "shape-key",
        ),
    };
    let mut head = jsonwebtoken::Header::new(alg);
    head.kid = Some(kid.into());
    jsonwebtoken::encode(&head, &claims, &key).unwrap()
}

/// The key the provider signs with and publishes, and its id: the first
/// one, or after a rotation the newer one (here the key a forger used
/// before, now the provider's own).
fn signing_key(shape: &Shape, rotated: bool) -> (Algorithm, EncodingKey, &'static str) {
    match rotated {
        false => (Algorithm::RS256, shape.key.clone(), "shape-key"),
        true => (
            Algorithm::RS256,
            EncodingKey::from_rsa_der(OTHER_RSA_KEY),
            "shape-key-2",
        ),
    }
}

async fn discovery(State(shape): Shared) -> Json<Value> {
    let url = &shape.url;
    let (token, userinfo, jwks, auth_methods) = match shape.kind {
        Kind::Kakao => (
            "/oauth/token",
            "/v1/oidc/userinfo",
            "/.well-known/jwks.json",
            json!(["client_secret_post"]),
        ),
        _ => (
            "/token",
            "/v1/userinfo",
            "/oauth2/v3/certs",
            json!(["client_secret_post", "client_secret_basic"]),
        ),
    };
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}{}", shape.kind.authorize()),
        "token_endpoint": format!("{url}{token}"),
        "userinfo_endpoint": format!("{url}{userinfo}"),
        "jwks_uri": format!("{url}{jwks}"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
}

async fn jwks(State(shape): Shared) -> Json<Value> {
    let rotated = {
        let mut book = shape.book();
        book.key_fetches += 1;
        book.rotated
    };
    let (alg, key, kid) = signing_key(&shape, rotated);
    let mut jwk = Jwk::from_encoding_key(&key, alg).unwrap();
    jwk.common.key_id = Some(kid.into());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Json(json!({ "keys": [jwk] }))
}

/// Whom the bearer token belongs to, unless refused.
fn bearer(shape: &Shape, headers: &HeaderMap) -> Option<Person> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let token = token.strip_prefix("gho_").unwrap_or(token);
    let book = shape.book();
    if book.refuse_tokens {
        return None;
    }
    book.tokens.get(token).cloned()
}

/// The profile endpoint: GitHub's `/user`, Naver's `/v1/nid/me`, the
/// OpenID Connect providers' userinfo.
async fn profile(State(shape): Shared, headers: HeaderMap) -> axum::response::Response {
    let Some(person) = bearer(&shape, &headers) else {
        let body = match shape.kind {
            Kind::GitHub => json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            }),
            Kind::Naver => json!({
                "resultcode": "024",
                "message": "Authentication failed / 인증에 실패했습니다.",
            }),
            Kind::Kakao => json!({ "msg": "this access token does not exist", "code": -401 }),
            Kind::Google => json!({
                "error": "invalid_request",
                "error_description": "Invalid Credentials",
            }),
        };
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    };
    let body = match shape.kind {
        Kind::GitHub => json!({
            "login": person.login,
            "id": person.id.parse::<u64>().unwrap(),
            "node_id": "MDQ6VXNlcjE=",
            "name": null,
            // The public address, which need not be the primary one.
            "email": null,
            "type": "User",
        }),
        Kind::Naver => {
            let mut me = json!({
                "id": person.id,
                "nickname": "네이버 사용자",
                "name": "김철수",
            });
            if let Some(email) = &person.email {
                me["email"] = json!(email);
            }
            json!({ "resultcode": "00", "message": "success", "response": me })
        }
        Kind::Kakao | Kind::Google => {
            let mut me = json!({ "sub": person.id, "nickname": person.login });
            if let Some(email) = &person.email {
                me["email"] = json!(email);
                me["email_verified"] = json!(person.verified);
            }
            me
        }
    };
    Json(body).into_response()
}

/// GitHub's `/user/emails`: the primary address and the private noreply
/// one (verified, never primary). Without the permission (a GitHub App
/// not granted it), a 403.
async fn github_emails(State(shape): Shared, headers: HeaderMap) -> axum::response::Response {
    let Some(person) = bearer(&shape, &headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "message": "Bad credentials" })),
        )
            .into_response();
    };
    let Some(email) = person.email else {
        let body = json!({
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com/rest/users/emails",
            "status": "403",
        });
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    };
    Json(json!([
        { "email": email, "primary": true, "verified": person.verified, "visibility": "private" },
        {
            "email": format!("{}+{}@users.noreply.github.com", person.id, person.login),
            "primary": false,
            "verified": true,
            "visibility": null,
        },
    ]))
    .into_response()
}

/// This deployment, offering the shape's provider.
async fn deployment(shape: &Shape) -> (Services, Router) {
    keeping(shape, false).await
}

/// …keeping providers' tokens, or not.
async fn keeping(shape: &Shape, keep_upstream_tokens: bool) -> (Services, Router) {
    offering(&[shape], keep_upstream_tokens, Backend::Sqlite).await
}

/// …offering each of `shapes`' providers, on `backend`.
async fn offering(
    shapes: &[&Shape],
    keep_upstream_tokens: bool,
    backend: Backend,
) -> (Services, Router) {
    let config = AuthConfig {
        upstreams: shapes.iter().map(|s| s.provider()).collect(),
        keep_upstream_tokens,
        ..AuthConfig::for_tests()
    };
    let services = common::services_with(backend, config).await;
    let app = server::router::build(services.clone(), leptos_options(), ORIGIN);
    (services, app)
}

/// The whole round trip for whoever is signed in at the provider: the
/// button's post, the provider's answer, the way back.
async fn round_trip(shape: &Shape, at: &Router, app: &Router) -> Response<Body> {
    let (answer, cookies) = to_provider(shape, at, app, "next=", "").await;
    back(app, &answer, &cookies).await
}

/// The first two legs, from a browser with `cookies` posting `form`: the
/// provider's answer, and the browser's cookies for the way back.
async fn to_provider(
    shape: &Shape,
    at: &Router,
    app: &Router,
    form: &str,
    cookies: &str,
) -> (String, String) {
    let id = shape.kind.id();
    let had = (!cookies.is_empty()).then_some(cookies);
    let res = send(app, form_post(&format!("/login/with/{id}"), form, had)).await;
    assert_eq!(res.status(), StatusCode::OK, "{id}: {:?}", res.headers());
    let state = match had {
        Some(had) => format!("{had}; {}", cookie_jar(&res)),
        None => cookie_jar(&res),
    };
    let page = body_text(res).await;
    let to = page
        .split("url=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a refresh to the provider")
        .replace("&amp;", "&");
    let path = to.strip_prefix(&shape.url).expect("the provider's address");
    assert!(path.starts_with(shape.kind.authorize()), "{to}");
    let answer = location(&send(at, page_get(path, "")).await);
    assert!(answer.starts_with(&back_to(shape.kind)), "{answer}");
    (answer, state)
}

fn access_of(cookies: &str) -> String {
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("lk_access="))
        .expect("signed in")
        .to_owned()
}

fn problem(kind: Kind, reason: &str) -> String {
    format!("/login?upstream={}&problem={reason}", kind.id())
}

#[tokio::test]
async fn each_provider_opens_an_account_for_a_vouched_address_and_signs_in_again() {
    for kind in Kind::ALL {
        let (shape, at) = Shape::start(kind).await;
        let (s, app) = deployment(&shape).await;
        let page = body_text(send(&app, page_get("/login", "")).await).await;
        let label = match kind {
            Kind::GitHub => "Sign in with GitHub",
            Kind::Naver => "Log in with NAVER",
            Kind::Kakao => "Login with Kakao",
            Kind::Google => "Sign in with Google",
        };
        assert!(page.contains(label), "{kind:?}");

        let person = Person::new(kind, true);
        let email = person.email.clone().unwrap();
        shape.book().person = Some(person.clone());
        let res = round_trip(&shape, &at, &app).await;
        assert_eq!(location(&res), "/profile", "{kind:?}");
        let session = cookie_jar(&res);
        assert!(session.contains("lk_access="), "{kind:?}: {session}");
        let me = body_json(send(&app, page_get("/api/v1/me", &session)).await).await;
        assert_eq!(me["email"], email.as_str(), "{kind:?}");
        assert_eq!(me["email_verified"], true, "{kind:?}");
        // GitHub's login names the account (the others' names: the
        // mailbox's).
        if kind == Kind::GitHub {
            assert_eq!(me["username"], person.login.as_str(), "{kind:?}: {me}");
        }
        let linked = body_json(send(&app, page_get("/api/v1/me/identities", &session)).await).await;
        assert_eq!(linked[0]["provider"], kind.id(), "{kind:?}");
        let id = user_id_of(&s, &email).await.unwrap();
        let subject: String =
            sqlx::query_scalar("SELECT subject FROM identities WHERE user_id = $1")
                .bind(&id)
                .fetch_one(&s.db.pool)
                .await
                .unwrap();
        assert_eq!(subject, person.id, "{kind:?}: keyed by the provider's id");

        // Next time: the same account.
        let res = round_trip(&shape, &at, &app).await;
        assert_eq!(location(&res), "/profile", "{kind:?}");
        let count = counts(&s).await.0;
        assert_eq!(count, 1, "{kind:?}");
        let logins = events(&s, &id)
            .await
            .into_iter()
            .filter(|e| {
                *e == (
                    "login_succeeded".into(),
                    Some(format!("upstream:{}", kind.id())),
                )
            })
            .count();
        assert_eq!(logins, 2, "{kind:?}");
    }
}

#[tokio::test]
async fn each_provider_unvouched_or_missing_addresses_open_nothing() {
    for kind in Kind::ALL {
        let (shape, at) = Shape::start(kind).await;
        let (s, app) = deployment(&shape).await;
        let unverified = Person::new(kind, false);
        let unshared = Person {
            email: None,
            ..Person::new(kind, true)
        };
        for person in [unverified, unshared] {
            shape.book().person = Some(person.clone());
            let res = round_trip(&shape, &at, &app).await;
            assert_eq!(
                location(&res),
                problem(kind, "upstream_no_email"),
                "{kind:?}: {person:?}"
            );
            assert!(!cookie_jar(&res).contains("lk_access="));
        }
        let count = counts(&s).await.0;
        assert_eq!(count, 0, "{kind:?}");
        let page =
            body_text(send(&app, page_get(&problem(kind, "upstream_no_email"), "")).await).await;
        assert!(
            page.contains(&format!(
                "{} did not share a verified email address",
                kind.name()
            )),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn each_provider_refusals_and_cancels_are_said_and_change_nothing() {
    for kind in Kind::ALL {
        let (shape, at) = Shape::start(kind).await;
        let (s, app) = deployment(&shape).await;
        shape.book().person = Some(Person::new(kind, true));

        shape.book().cancel = true;
        let res = round_trip(&shape, &at, &app).await;
        assert_eq!(
            location(&res),
            problem(kind, "upstream_cancelled"),
            "{kind:?}"
        );
        shape.book().cancel = false;

        // Its token endpoint refuses the code, then its profile endpoint
        // the token: each in its own words, both "did not work" here.
        shape.book().refuse_codes = true;
        let res = round_trip(&shape, &at, &app).await;
        assert_eq!(location(&res), problem(kind, "upstream_failed"), "{kind:?}");
        shape.book().refuse_codes = false;
        shape.book().refuse_tokens = true;
        let res = round_trip(&shape, &at, &app).await;
        if kind == Kind::Google {
            // Google's ID token says it all: its userinfo is not asked.
            assert_eq!(location(&res), "/profile", "{kind:?}");
        } else {
            assert_eq!(location(&res), problem(kind, "upstream_failed"), "{kind:?}");
            let count = counts(&s).await.0;
            assert_eq!(count, 0, "{kind:?}");
        }
        let page =
            body_text(send(&app, page_get(&problem(kind, "upstream_failed"), "")).await).await;
        assert!(
            page.contains(&format!("Signing in with {} did not work", kind.name())),
            "{kind:?}"
        );
        let page =
            body_text(send(&app, page_get(&problem(kind, "upstream_cancelled"), "")).await).await;
        assert!(
            page.contains(&format!("You cancelled signing in at {}", kind.name())),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn each_provider_an_address_with_an_account_here_asks_its_owner_first() {
    for kind in Kind::ALL {
        let (shape, at) = Shape::start(kind).await;
        let (s, app) = deployment(&shape).await;
        let person = Person::new(kind, true);
        let email = person.email.clone().unwrap();
        let res = send(
            &app,
            json_post(
                "/api/v1/auth/signup",
                json!({ "email": email, "username": unique_name(), "password": PASSWORD }),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        shape.book().person = Some(person);
        let res = round_trip(&shape, &at, &app).await;
        assert_eq!(location(&res), problem(kind, "prove"), "{kind:?}");
        assert!(cookie_jar(&res).starts_with("lk_link="), "{kind:?}");
        let linked = counts(&s).await.1;
        assert_eq!(linked, 0, "{kind:?}: never on the provider's word");
    }
}

#[tokio::test]
async fn a_providers_token_is_kept_only_when_asked_sealed_and_only_for_its_account() {
    for kind in [Kind::GitHub, Kind::Kakao] {
        for keep in [false, true] {
            let (shape, at) = Shape::start(kind).await;
            let (s, app) = keeping(&shape, keep).await;
            shape.book().person = Some(Person::new(kind, true));
            let res = round_trip(&shape, &at, &app).await;
            let session = cookie_jar(&res);
            let path = format!("/api/v1/me/identities/{}/token", kind.id());
            let res = send(&app, page_get(&path, &session)).await;
            let stored: Option<String> = sqlx::query_scalar("SELECT access_token FROM identities")
                .fetch_one(&s.db.pool)
                .await
                .unwrap();
            if !keep {
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{kind:?}");
                let body = body_json(res).await;
                assert_eq!(body["error"]["reason"], "upstream_token_not_kept", "{body}");
                assert_eq!(stored, None, "{kind:?}: nothing of the provider's is kept");
                continue;
            }
            assert_eq!(res.status(), StatusCode::OK, "{kind:?}");
            let kept = body_json(res).await;
            let token = kept["access_token"].as_str().unwrap().to_owned();
            assert!(kept["kept_at"].is_i64(), "{kept}");
            let stored = stored.expect("kept");
            assert!(!stored.contains(&token), "{kind:?}: sealed at rest");
            // It is the provider's real token: its profile endpoint takes it.
            let profile = match kind {
                Kind::GitHub => "/api/v3/user",
                _ => "/v1/oidc/userinfo",
            };
            let req = Request::get(profile)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(&at, req).await.status(), StatusCode::OK, "{kind:?}");
            // The next sign-in's token replaces it.
            let res = round_trip(&shape, &at, &app).await;
            assert_eq!(location(&res), "/profile");
            let res = send(&app, page_get(&path, &session)).await;
            let newer = body_json(res).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_ne!(newer, token, "{kind:?}");
            // Moved to another row, the sealed value does not open.
            let (subject,): (String,) = sqlx::query_as("SELECT subject FROM identities")
                .fetch_one(&s.db.pool)
                .await
                .unwrap();
            sqlx::query("UPDATE identities SET subject = 'someone-else'")
                .execute(&s.db.pool)
                .await
                .unwrap();
            let res = send(&app, page_get(&path, &session)).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{kind:?}");
            assert_eq!(
                body_json(res).await["error"]["reason"],
                "upstream_token_not_kept"
            );
            sqlx::query("UPDATE identities SET subject = $1")
                .bind(&subject)
                .execute(&s.db.pool)
                .await
                .unwrap();
            // Another provider's id, or none signed in: nothing.
            let res = send(
                &app,
                page_get("/api/v1/me/identities/naver/token", &session),
            )
            .await;
            assert_eq!(body_json(res).await["error"]["reason"], "no_such_identity");
            let res = send(&app, page_get(&path, "")).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

            // Restarted with the setting off: what was kept is removed.
            let off = Services::new(
                s.db.clone(),
                s.ephemeral.clone(),
                AuthConfig {
                    upstreams: vec![shape.provider()],
                    ..AuthConfig::for_tests()
                },
                s.letters.clone(),
            );
            assert_eq!(off.upstream().forget_tokens_unless_kept().await.unwrap(), 1);
            let stored: Option<String> = sqlx::query_scalar("SELECT access_token FROM identities")
                .fetch_one(&s.db.pool)
                .await
                .unwrap();
            assert_eq!(stored, None, "{kind:?}");
        }
    }
}

#[tokio::test]
async fn two_removals_at_once_never_leave_an_account_without_a_way_in() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (github, at_github) = Shape::start(Kind::GitHub).await;
        let (naver, at_naver) = Shape::start(Kind::Naver).await;
        let (s, app) = offering(&[&github, &naver], false, backend).await;
        // An account opened through GitHub (no password, no passkey)…
        github.book().person = Some(Person::new(Kind::GitHub, true));
        let res = round_trip(&github, &at_github, &app).await;
        let session = format!("lk_access={}", access_of(&cookie_jar(&res)));
        // …links Naver while signed in (freshly: no password to ask).
        naver.book().person = Some(Person::new(Kind::Naver, true));
        let (answer, cookies) =
            to_provider(&naver, &at_naver, &app, "link=1&password=", &session).await;
        let res = back(&app, &answer, &cookies).await;
        assert_eq!(
            location(&res),
            "/security/accounts?upstream=naver&linked",
            "{backend:?}"
        );

        // Both removed at once: one goes, the other is the last way in.
        let token = access_of(&session);
        let remove = |provider: &'static str| {
            let (app, token) = (app.clone(), token.clone());
            async move {
                let path = format!("/api/v1/me/identities/{provider}/remove");
                send(&app, bearer_post(&path, &token, json!({ "password": "" })))
                    .await
                    .status()
            }
        };
        let (a, b) = tokio::join!(remove("github"), remove("naver"));
        let mut statuses = [a, b];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
            "{backend:?}"
        );
        let left = counts(&s).await.1;
        assert_eq!(left, 1, "{backend:?}");
    }
}

#[tokio::test]
async fn two_hundred_people_returning_at_once_each_get_their_own_account() {
    const PEOPLE: usize = 200;
    let (shape, at) = Shape::start(Kind::GitHub).await;
    let (s, app) = offering(&[&shape], false, Backend::Postgres).await;
    // Each at the provider in turn (it has one "signed in" at a time)…
    let mut returns = Vec::new();
    for _ in 0..PEOPLE {
        let person = Person::new(Kind::GitHub, true);
        shape.book().person = Some(person.clone());
        let (answer, cookies) = to_provider(&shape, &at, &app, "next=", "").await;
        returns.push((person, answer, cookies));
    }
    // …and all back at once: the code exchanges, profile calls and new
    // accounts race.
    let started = std::time::Instant::now();
    let landed = futures::future::join_all(
        returns
            .iter()
            .map(|(_, answer, cookies)| back(&app, answer, cookies)),
    )
    .await;
    let took = started.elapsed();
    for (res, (person, _, _)) in landed.iter().zip(&returns) {
        assert_eq!(location(res), "/profile", "{person:?}");
        assert!(cookie_jar(res).contains("lk_access="), "{person:?}");
    }
    assert_eq!(counts(&s).await, (PEOPLE as i64, PEOPLE as i64));
    eprintln!("{PEOPLE} returns from GitHub at once: {took:?}");
}

#[tokio::test]
async fn forged_id_tokens_open_nothing() {
    for kind in [Kind::Kakao, Kind::Google] {
        for forgery in [Forgery::OtherKey, Forgery::ClientSecret] {
            let (shape, at) = Shape::start(kind).await;
            let (s, app) = deployment(&shape).await;
            shape.book().person = Some(Person::new(kind, true));
            shape.book().forge = Some(forgery);
            let res = round_trip(&shape, &at, &app).await;
            assert_eq!(
                location(&res),
                problem(kind, "upstream_failed"),
                "{kind:?} {forgery:?}"
            );
            let count = counts(&s).await.0;
            assert_eq!(count, 0, "{kind:?} {forgery:?}");
            // The provider's own token, next: in.
            shape.book().forge = None;
            let res = round_trip(&shape, &at, &app).await;
            assert_eq!(location(&res), "/profile", "{kind:?} {forgery:?}");
        }
    }
}

/// An app that signs its users in through this deployment (its OpenID
/// Connect provider) gets them through GitHub too: the sign-in page's
/// button, then the app's authorization goes on as after any sign-in.
#[tokio::test]
async fn an_app_here_signs_its_user_in_through_github() {
    const REDIRECT: &str = "https://notes.example.com/callback";
    const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";
    let (shape, at) = Shape::start(Kind::GitHub).await;
    let (s, app) = deployment(&shape).await;
    let admin = common::make_admin(&s).await;
    let res = send(
        &app,
        bearer_post(
            "/api/v1/admin/apps",
            &admin.issued.access_token,
            json!({
                "name": "Notes",
                "redirect_uris": [REDIRECT],
                "confidential": false,
                "first_party": true,
                "scopes": ["openid", "email"],
                "grant_types": ["authorization_code"],
            }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let client_id = body_json(res).await["client_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(VERIFIER.as_bytes()));
    let redirect: String = url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect();
    let authorize = format!(
        "/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={redirect}\
         &scope=openid%20email&state=xyz&nonce=abc&code_challenge={challenge}&code_challenge_method=S256"
    );
    let res = send(&app, page_get(&authorize, "")).await;
    assert_eq!(location(&res), "/login");
    let parked = cookie_jar(&res);

    // On the log-in page: GitHub's button.
    let person = Person::new(Kind::GitHub, true);
    let email = person.email.clone().unwrap();
    shape.book().person = Some(person);
    let (answer, cookies) = to_provider(&shape, &at, &app, "next=", &parked).await;
    let res = back(&app, &answer, &cookies).await;
    assert_eq!(location(&res), "/profile");
    let cookies = format!("{}; {parked}", cookie_jar(&res));
    let res = send(&app, page_get("/profile", &cookies)).await;
    assert_eq!(location(&res), "/oauth/resume");
    let res = send(&app, page_get("/oauth/resume", &cookies)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a first-party app: no consent asked"
    );
    let page = body_text(res).await;
    let back_at_app = page
        .split("url=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("on to the app")
        .replace("&amp;", "&");
    assert!(back_at_app.starts_with(REDIRECT), "{back_at_app}");
    let code = url::Url::parse(&back_at_app)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // The app's server trades the code and learns who it is.
    let res = send(
        &app,
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "grant_type=authorization_code&code={code}&redirect_uri={redirect}\
                 &client_id={client_id}&code_verifier={VERIFIER}"
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let access = body_json(res).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = send(&app, bearer_get("/oauth/userinfo", &access)).await;
    let info = body_json(res).await;
    assert_eq!(info["email"], email.as_str(), "{info}");
    assert_eq!(info["email_verified"], true, "{info}");
}

/// An account with an authenticator app: linking another provider asks a
/// fresh code, signing in through one still asks the app, and an admin's
/// reset of its sign-in factors (a lost phone) unlinks every provider too.
#[tokio::test]
async fn a_second_factor_guards_provider_links_and_sign_ins_and_a_reset_unlinks_them() {
    let (github, at_github) = Shape::start(Kind::GitHub).await;
    let (naver, at_naver) = Shape::start(Kind::Naver).await;
    let (s, app) = offering(&[&github, &naver], false, Backend::Sqlite).await;
    let person = Person::new(Kind::GitHub, true);
    let email = person.email.clone().unwrap();
    github.book().person = Some(person);
    let res = round_trip(&github, &at_github, &app).await;
    let session = format!("lk_access={}", access_of(&cookie_jar(&res)));
    let id = user_id_of(&s, &email).await.unwrap();
    // An authenticator app on the account (its secret is not used here).
    let now = latchkey_core::now();
    sqlx::query(
        "INSERT INTO totp_factors (user_id, secret, confirmed_at, created_at) \
         VALUES ($1, 'unused', $2, $2)",
    )
    .bind(&id)
    .bind(now)
    .execute(&s.db.pool)
    .await
    .unwrap();

    // Linking Naver: a fresh code first…
    let res = send(
        &app,
        form_post("/login/with/naver", "link=1&password=", Some(&session)),
    )
    .await;
    assert!(
        location(&res).starts_with("/security/accounts?upstream=naver&problem=step_up_required"),
        "{}",
        location(&res)
    );
    // …then on, once the session has given one (as the step-up page
    // records it).
    sqlx::query("UPDATE sessions SET second_factor_at = $1 WHERE user_id = $2")
        .bind(now)
        .bind(&id)
        .execute(&s.db.pool)
        .await
        .unwrap();
    naver.book().person = Some(Person::new(Kind::Naver, true));
    let (answer, cookies) =
        to_provider(&naver, &at_naver, &app, "link=1&password=", &session).await;
    let res = back(&app, &answer, &cookies).await;
    assert_eq!(location(&res), "/security/accounts?upstream=naver&linked");

    // GitHub's word is the first factor only: the app's code is asked, and
    // the second step still goes back where the sign-in was going.
    let res = round_trip(&github, &at_github, &app).await;
    assert_eq!(location(&res), "/login/second-factor");
    let jar = cookie_jar(&res);
    assert!(!jar.contains("lk_access="), "{jar}");
    let (answer, cookies) = to_provider(&github, &at_github, &app, "next=%2Fsessions", "").await;
    let res = back(&app, &answer, &cookies).await;
    assert_eq!(location(&res), "/login/second-factor?next=%2Fsessions");
    // A refusal keeps it too, for the sign-in tried after.
    github.book().cancel = true;
    let (answer, cookies) = to_provider(&github, &at_github, &app, "next=%2Fsessions", "").await;
    let res = back(&app, &answer, &cookies).await;
    assert_eq!(
        location(&res),
        "/login?upstream=github&problem=upstream_cancelled&next=%2Fsessions"
    );
    github.book().cancel = false;

    // An admin resets the account's sign-in factors: both providers go,
    // logged, and the next return from GitHub is a stranger's (its address
    // has an account: prove first).
    let admin = common::make_admin(&s).await;
    let req = Request::delete(format!("/api/v1/admin/users/{id}/second-factors"))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", admin.issued.access_token),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(counts(&s).await.1, 0);
    let unlinked = events(&s, &id).await;
    assert!(
        unlinked.contains(&("identity_unlinked".into(), Some("2".into()))),
        "{unlinked:?}"
    );
    let res = round_trip(&github, &at_github, &app).await;
    assert_eq!(location(&res), problem(Kind::GitHub, "prove"));
}

/// How the address's owner first proves it is theirs.
#[derive(Debug, Clone, Copy)]
enum Proof {
    /// Signs in by the code mailed to it.
    Code,
    /// Sets a password with the reset link mailed to it.
    ResetLink,
}

/// Someone signed up with another person's address (never proven) and
/// linked two providers to the account: each vouched for that address,
/// and they signed in afresh with the password they chose and confirmed.
/// When the address's owner first proves it (an emailed code, a reset
/// link), the account is theirs: every provider is unlinked, logged with
/// how many went, the squatter's sessions end, and the squatter's
/// providers open nothing any more.
#[tokio::test]
async fn the_owners_first_proof_of_the_address_unlinks_a_squatters_providers() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for proof in [Proof::Code, Proof::ResetLink] {
            let case = format!("{backend:?} {proof:?}");
            let (github, at_github) = Shape::start(Kind::GitHub).await;
            let (naver, at_naver) = Shape::start(Kind::Naver).await;
            let (s, app) = offering(&[&github, &naver], false, backend).await;
            let (port, inbox) = common::smtp::start().await;
            common::start_outbox(&s, port);

            // The owner's address (a Naver mailbox: both providers may
            // vouch for it), signed up with by someone else.
            let owner = Kind::Naver.address();
            let res = send(
                &app,
                json_post(
                    "/api/v1/auth/signup",
                    json!({ "email": owner, "username": unique_name(), "password": PASSWORD }),
                ),
            )
            .await;
            assert_eq!(res.status(), StatusCode::CREATED, "{case}");
            let squatters = body_json(res).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let id = user_id_of(&s, &owner).await.unwrap();

            // Each provider vouches for the address: prove first, then the
            // password in that browser, then the link.
            for (shape, at) in [(&github, &at_github), (&naver, &at_naver)] {
                let kind = shape.kind;
                shape.book().person = Some(Person {
                    email: Some(owner.clone()),
                    ..Person::new(kind, true)
                });
                let res = round_trip(shape, at, &app).await;
                assert_eq!(location(&res), problem(kind, "prove"), "{case}");
                let waiting = cookie_jar(&res);
                assert!(waiting.starts_with("lk_link="), "{case}: {waiting}");
                let res = send(
                    &app,
                    form_post(
                        "/fn/login",
                        &format!("login={}&password={}", url_enc(&owner), url_enc(PASSWORD)),
                        Some(&waiting),
                    ),
                )
                .await;
                let session = format!("lk_access={}", access_of(&cookie_jar(&res)));
                let res = send(
                    &app,
                    form_post(
                        "/fn/confirm_link",
                        "answer=link",
                        Some(&format!("{session}; {waiting}")),
                    ),
                )
                .await;
                assert_eq!(
                    location(&res),
                    format!("/security/accounts?upstream={}&linked", kind.id()),
                    "{case}"
                );
                // The mailbox's owner is told of each new way in.
                let told = format!("A {} account was linked", kind.name());
                inbox.wait_for_subject(&owner, &told).await;
            }
            assert_eq!(counts(&s).await, (1, 2), "{case}");
            let verified: i64 =
                sqlx::query_scalar("SELECT email_verified FROM users WHERE id = $1")
                    .bind(&id)
                    .fetch_one(&s.db.pool)
                    .await
                    .unwrap();
            assert_eq!(verified, 0, "{case}: the address is still unproven");
            // Until the owner acts, each signs the squatter straight in.
            for (shape, at) in [(&github, &at_github), (&naver, &at_naver)] {
                let res = round_trip(shape, at, &app).await;
                assert_eq!(location(&res), "/profile", "{case} {:?}", shape.kind);
            }

            // The owner proves the address.
            match proof {
                Proof::Code => {
                    let res = send(
                        &app,
                        form_post(
                            "/fn/request_signin_code",
                            &format!("email={}&next=", url_enc(&owner)),
                            None,
                        ),
                    )
                    .await;
                    assert!(location(&res).starts_with("/login/code?"), "{case}");
                    let mail = inbox.wait_for_subject(&owner, "sign-in code").await;
                    let code = common::smtp::code_in(&mail);
                    let res = send(
                        &app,
                        form_post(
                            "/fn/signin_with_code",
                            &format!("email={}&code={code}&next=", url_enc(&owner)),
                            None,
                        ),
                    )
                    .await;
                    assert_eq!(location(&res), "/profile", "{case}");
                    assert!(cookie_jar(&res).contains("lk_access="), "{case}");
                }
                Proof::ResetLink => {
                    let res = send(
                        &app,
                        json_post("/api/v1/password/forgot", json!({ "email": owner })),
                    )
                    .await;
                    assert_eq!(res.status(), StatusCode::ACCEPTED, "{case}");
                    let mail = inbox.wait_for_subject(&owner, "Reset your").await;
                    let token = common::smtp::reset_token_in(&mail);
                    let res = send(
                        &app,
                        json_post(
                            "/api/v1/password/reset",
                            json!({ "token": token, "password": "the owners own passphrase 5e4d" }),
                        ),
                    )
                    .await;
                    assert_eq!(res.status(), StatusCode::OK, "{case}");
                }
            }

            // Both providers unlinked, logged as one removal of two, for the
            // address proven; the squatter's session is over.
            assert_eq!(counts(&s).await, (1, 0), "{case}");
            let unlinked: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT reason, detail FROM audit_events \
                 WHERE user_id = $1 AND kind = 'identity_unlinked'",
            )
            .bind(&id)
            .fetch_all(&s.db.pool)
            .await
            .unwrap();
            assert_eq!(
                unlinked,
                [(Some("address_proven".into()), Some("2".into()))],
                "{case}"
            );
            let res = send(&app, bearer_get("/api/v1/me", &squatters)).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case}");
            // The squatter's providers are strangers now: their address has
            // an account, whose owner would have to sign in and confirm.
            for (shape, at) in [(&github, &at_github), (&naver, &at_naver)] {
                let res = round_trip(shape, at, &app).await;
                assert_eq!(location(&res), problem(shape.kind, "prove"), "{case}");
                assert!(!cookie_jar(&res).contains("lk_access="), "{case}");
            }
        }
    }
}

/// A request as it arrives from `ip` (the connection's peer, no proxy in
/// front).
fn from_address(ip: &str, mut req: Request<Body>) -> Request<Body> {
    let peer = std::net::SocketAddr::new(ip.parse().unwrap(), 50_000);
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    req
}

/// Each client address begins at most 60 sign-ins at providers an hour
/// (each holds a little memory for ten minutes): the 61st is refused,
/// said on the log-in page, and holds nothing; another address still
/// begins, and a sign-in begun before the limit still finishes.
#[tokio::test]
async fn each_address_begins_at_most_sixty_sign_ins_at_providers_an_hour() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (shape, at) = Shape::start(Kind::GitHub).await;
        let (s, app) = offering(&[&shape], false, backend).await;
        let begin = |ip: &'static str| {
            let app = app.clone();
            async move {
                send(
                    &app,
                    from_address(ip, form_post("/login/with/github", "next=", None)),
                )
                .await
            }
        };
        let mut first = None;
        for n in 1..=60 {
            let res = begin("203.0.113.7").await;
            assert_eq!(res.status(), StatusCode::OK, "{backend:?}: start {n}");
            let state = cookie_jar(&res);
            assert!(state.starts_with("lk_upstream="), "{backend:?}: start {n}");
            if first.is_none() {
                first = Some((state, body_text(res).await));
            }
        }
        let refused = begin("203.0.113.7").await;
        assert_eq!(refused.status(), StatusCode::SEE_OTHER, "{backend:?}");
        let to = location(&refused);
        let retry = to
            .strip_prefix(&format!(
                "{}&count=",
                problem(Kind::GitHub, "too_many_attempts")
            ))
            .unwrap_or_else(|| panic!("{backend:?}: {to}"));
        let retry: u64 = retry.parse().unwrap();
        assert!((1..=3600).contains(&retry), "{backend:?}: {retry}");
        assert!(
            !cookie_jar(&refused).contains("lk_upstream="),
            "{backend:?}: no state for a refused start"
        );
        let page = body_text(send(&app, page_get(&to, "")).await).await;
        assert!(
            page.contains("Too many attempts. Please wait a while and try again."),
            "{backend:?}"
        );
        // Another address has its own budget.
        let res = begin("203.0.113.8").await;
        assert_eq!(res.status(), StatusCode::OK, "{backend:?}");
        assert!(cookie_jar(&res).starts_with("lk_upstream="), "{backend:?}");

        // The first sign-in, begun before the limit, still comes back in.
        let (state, page) = first.unwrap();
        let to = page
            .split("url=")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a refresh to the provider")
            .replace("&amp;", "&");
        shape.book().person = Some(Person::new(Kind::GitHub, true));
        let path = to.strip_prefix(&shape.url).expect("the provider's address");
        let answer = location(&send(&at, page_get(path, "")).await);
        let res = send(
            &app,
            from_address(
                "203.0.113.7",
                page_get(answer.strip_prefix(ORIGIN).unwrap(), &state),
            ),
        )
        .await;
        assert_eq!(location(&res), "/profile", "{backend:?}");
        assert_eq!(counts(&s).await, (1, 1), "{backend:?}");
    }
}

/// An OpenID Connect provider rotates its signing key: an ID token signed
/// by a key this deployment's copy of its keys does not hold has them
/// fetched again, but not within 30 s of the last fetch (answers cannot
/// make it hammer the provider). Right after the first fetch, the new key
/// is refused and nothing is fetched; 30 s on, it is fetched and the same
/// person signs in to the same account; the provider going back to its
/// old key at once is refused, with no fetch. About 31 s, both databases
/// at once.
#[tokio::test]
async fn a_rotated_signing_key_is_fetched_again_but_not_within_30_s() {
    tokio::join!(
        key_rotation(Backend::Sqlite),
        key_rotation(Backend::Postgres)
    );
}

async fn key_rotation(backend: Backend) {
    let kind = Kind::Google;
    let (shape, at) = Shape::start(kind).await;
    let (s, app) = offering(&[&shape], false, backend).await;
    let fetches = || shape.book().key_fetches;
    shape.book().person = Some(Person::new(kind, true));
    let res = round_trip(&shape, &at, &app).await;
    assert_eq!(location(&res), "/profile", "{backend:?}");
    assert_eq!(fetches(), 1, "{backend:?}");

    // Rotated within 30 s of the fetch: refused, nothing fetched.
    shape.book().rotated = true;
    let res = round_trip(&shape, &at, &app).await;
    assert_eq!(
        location(&res),
        problem(kind, "upstream_failed"),
        "{backend:?}"
    );
    assert_eq!(fetches(), 1, "{backend:?}: not within 30 s");

    // Past the floor: fetched once more, and in.
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    let res = round_trip(&shape, &at, &app).await;
    assert_eq!(location(&res), "/profile", "{backend:?}");
    assert!(cookie_jar(&res).contains("lk_access="), "{backend:?}");
    assert_eq!(fetches(), 2, "{backend:?}");
    assert_eq!(counts(&s).await, (1, 1), "{backend:?}: the same account");
    // The new key is held now: no fetch.
    let res = round_trip(&shape, &at, &app).await;
    assert_eq!(location(&res), "/profile", "{backend:?}");
    assert_eq!(fetches(), 2, "{backend:?}");

    // Another key it does not hold, within 30 s of that fetch: refused,
    // nothing fetched.
    shape.book().rotated = false;
    let res = round_trip(&shape, &at, &app).await;
    assert_eq!(
        location(&res),
        problem(kind, "upstream_failed"),
        "{backend:?}"
    );
    assert_eq!(fetches(), 2, "{backend:?}: not within 30 s");
    assert_eq!(counts(&s).await, (1, 1), "{backend:?}");
}
