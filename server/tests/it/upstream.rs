//! Signing in through another provider, against a real one: a second
//! Latchkey listening on its own loopback port is the upstream OpenID
//! Connect provider (discovery, keys, token endpoint over TCP), and this
//! one is driven in-process as a browser would: the button's post, the
//! provider's sign-in and consent, the way back.

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use latchkey_core::config::AuthConfig;
use latchkey_core::upstream::{Kind, Provider};
use latchkey_core::Services;
use serde_json::{json, Value};

use crate::common::http::*;
use crate::common::{self, leptos_options, unique_name, Backend, PASSWORD};

mod shapes;

const BACK: &str = "http://127.0.0.1:3000/login/with/oidc/back";

/// The second Latchkey: its router, reached in-process for the browser's
/// steps and over TCP by this one's server-side calls.
struct Upstream {
    services: Services,
    app: Router,
    url: String,
    client_id: String,
    secret: String,
}

impl Upstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let config = AuthConfig {
            issuer: url.clone(),
            public_url: url.clone(),
            ..AuthConfig::for_tests()
        };
        let services = common::services_with(Backend::Sqlite, config).await;
        let app = server::router::build(services.clone(), leptos_options(), &url);
        let serving = app.clone();
        tokio::spawn(async move { axum::serve(listener, serving).await });
        // This deployment registers as an app there.
        let admin = common::make_admin(&services).await;
        let res = send(
            &app,
            bearer_post(
                "/api/v1/admin/apps",
                &admin.issued.access_token,
                json!({
                    "name": "Downstream",
                    "redirect_uris": [BACK],
                    "confidential": true,
                    "scopes": ["openid", "email", "profile"],
                    "grant_types": ["authorization_code"],
                }),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let app_body = body_json(res).await;
        Self {
            services,
            app,
            url,
            client_id: app_body["client_id"].as_str().unwrap().to_owned(),
            secret: app_body["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    fn provider(&self) -> Provider {
        Provider {
            id: "oidc".into(),
            name: "Upstream".into(),
            kind: Kind::OpenIdConnect,
            issuer: self.url.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.secret.clone(),
            scopes: vec!["email".into(), "profile".into()],
            per_app_subjects: false,
        }
    }

    /// A person with an account there (its address verified or not); the
    /// cookie of their session there.
    async fn person(&self, email: &str, verified: bool) -> String {
        let res = send(
            &self.app,
            json_post(
                "/api/v1/auth/signup",
                json!({ "email": email, "username": unique_name(), "password": PASSWORD }),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let tokens = body_json(res).await;
        if verified {
            sqlx::query("UPDATE users SET email_verified = 1 WHERE email = $1")
                .bind(email)
                .execute(&self.services.db.pool)
                .await
                .unwrap();
        }
        format!("lk_access={}", tokens["access_token"].as_str().unwrap())
    }

    /// The browser at the provider again: signed in there and the app
    /// allowed before, it is sent straight back; to where.
    async fn remembered(&self, authorize: &str, session: &str) -> String {
        let path = authorize
            .strip_prefix(&self.url)
            .expect("the provider's address");
        let answer = location(&send(&self.app, page_get(path, session)).await);
        assert!(answer.starts_with(BACK), "{answer}");
        answer
    }

    /// The browser at the provider: signed in there, it allows the app
    /// (or cancels); where the provider sends it back to.
    async fn consent(&self, authorize: &str, session: &str, allow: bool) -> String {
        let path = authorize
            .strip_prefix(&self.url)
            .expect("the provider's address");
        let res = send(&self.app, page_get(path, session)).await;
        let consent = location(&res);
        assert!(consent.starts_with("/oauth/consent?request="), "{consent}");
        let request = url::Url::parse(&format!("{}{consent}", self.url))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "request")
            .unwrap()
            .1
            .into_owned();
        let enc: String = url::form_urlencoded::byte_serialize(request.as_bytes()).collect();
        let req = Request::post("/fn/decide_consent")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::ORIGIN, &self.url)
            .header(header::COOKIE, session)
            .body(Body::from(format!("request={enc}&allow={allow}")))
            .unwrap();
        location(&send(&self.app, req).await)
    }
}

fn location(res: &Response<Body>) -> String {
    res.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// This deployment, offering the upstream's sign-in.
async fn downstream(upstream: &Upstream, backend: Backend) -> (Services, Router) {
    let config = AuthConfig {
        upstreams: vec![upstream.provider()],
        ..AuthConfig::for_tests()
    };
    let services = common::services_with(backend, config).await;
    let app = server::router::build(services.clone(), leptos_options(), ORIGIN);
    (services, app)
}

/// The button's post: the page that moves on to the provider, and the
/// state cookie it set.
async fn begin(app: &Router, form: &str, cookies: Option<&str>) -> (String, String) {
    let res = send(app, form_post("/login/with/oidc", form, cookies)).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.headers());
    let state = cookie_jar(&res);
    assert!(state.starts_with("lk_upstream="), "{state}");
    let page = body_text(res).await;
    let to = page
        .split("url=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a refresh to the provider")
        .replace("&amp;", "&");
    (to, state)
}

/// The `state` the way to the provider carries.
fn state_in(to: &str) -> String {
    url::Url::parse(to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

/// The way back from the provider, with the browser's cookies.
async fn back(app: &Router, to: &str, cookies: &str) -> Response<Body> {
    let path = to.strip_prefix(ORIGIN).expect("back to this deployment");
    send(app, page_get(path, cookies)).await
}

async fn events(s: &Services, user_id: &str) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT kind, detail FROM audit_events WHERE user_id = $1 ORDER BY at, id")
        .bind(user_id)
        .fetch_all(&s.db.pool)
        .await
        .unwrap()
}

/// How many accounts and linked identities there are.
async fn counts(s: &Services) -> (i64, i64) {
    sqlx::query_as("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM identities)")
        .fetch_one(&s.db.pool)
        .await
        .unwrap()
}

async fn user_id_of(s: &Services, email: &str) -> Option<String> {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&s.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_identity_opens_an_account_and_signs_straight_in_next_time() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let upstream = Upstream::start().await;
        let (s, app) = downstream(&upstream, backend).await;
        let email = format!("{}@example.com", unique_name());
        let there = upstream.person(&email, true).await;

        // The log-in page offers the provider by its name.
        let page = body_text(send(&app, page_get("/login", "")).await).await;
        assert!(page.contains("Sign in with Upstream"), "{page:.3000}");
        assert!(page.contains("action=\"/login/with/oidc\""));

        let (to, state) = begin(&app, "next=%2Fsecurity", None).await;
        assert!(
            to.contains("code_challenge_method=S256") && to.contains("nonce="),
            "{to}"
        );
        let answer = upstream.consent(&to, &there, true).await;
        assert!(answer.starts_with(BACK), "{answer}");
        let res = back(&app, &answer, &state).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/security", "lands where it began");
        let session = cookie_jar(&res);
        assert!(
            session.contains("lk_access=") && session.contains("lk_refresh="),
            "{session}"
        );

        // A new account, its address verified, with no password; it knows
        // how it signed in.
        let id = user_id_of(&s, &email).await.expect("an account");
        let me = body_json(send(&app, page_get("/api/v1/me", &session)).await).await;
        assert_eq!(me["email_verified"], true, "{me}");
        assert_eq!(me["has_password"], false, "{me}");
        let kinds = events(&s, &id).await;
        assert!(kinds.contains(&("sign_up".into(), None)), "{kinds:?}");
        assert!(kinds.contains(&("login_succeeded".into(), Some("upstream:oidc".into()))));
        let linked = body_json(send(&app, page_get("/api/v1/me/identities", &session)).await).await;
        assert_eq!(linked[0]["provider"], "oidc");
        assert_eq!(linked[0]["email"], email.as_str());
        assert!(
            linked[0]["last_used_at"].is_i64(),
            "it just signed in: {linked}"
        );

        // Next time: straight in (the provider remembers the consent), the
        // same account.
        let (to, state) = begin(&app, "next=", None).await;
        let answer = upstream.remembered(&to, &there).await;
        let res = back(&app, &answer, &state).await;
        assert_eq!(location(&res), "/profile");
        let count = counts(&s).await.0;
        assert_eq!(count, 1);
        let kinds = events(&s, &id).await;
        assert_eq!(
            kinds.iter().filter(|(k, _)| k == "login_succeeded").count(),
            2
        );
        assert!(kinds.contains(&("identity_linked".into(), Some("oidc".into()))));

        // Disabled here: the provider's word does not let it in.
        sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
            .bind(&id)
            .execute(&s.db.pool)
            .await
            .unwrap();
        let (to, state) = begin(&app, "next=", None).await;
        let answer = upstream.remembered(&to, &there).await;
        let res = back(&app, &answer, &state).await;
        assert_eq!(
            location(&res),
            "/login?upstream=oidc&problem=account_disabled"
        );
        assert!(!cookie_jar(&res).contains("lk_access="));
    }
}

#[tokio::test]
async fn an_address_with_an_account_here_is_linked_only_after_its_owner_signs_in() {
    let upstream = Upstream::start().await;
    let (s, app) = downstream(&upstream, Backend::Sqlite).await;
    let email = format!("{}@example.com", unique_name());
    let there = upstream.person(&email, true).await;
    // The same address has an account here, with a password; its owner
    // was signed in before the identity came back.
    let res = send(
        &app,
        json_post(
            "/api/v1/auth/signup",
            json!({ "email": email, "username": unique_name(), "password": PASSWORD }),
        ),
    )
    .await;
    let old_session = format!(
        "lk_access={}",
        body_json(res).await["access_token"].as_str().unwrap()
    );
    let id = user_id_of(&s, &email).await.unwrap();

    let (to, state) = begin(&app, "next=", None).await;
    let answer = upstream.consent(&to, &there, true).await;
    let res = back(&app, &answer, &state).await;
    assert_eq!(location(&res), "/login?upstream=oidc&problem=prove");
    let waiting = cookie_jar(&res);
    assert!(waiting.starts_with("lk_link="), "{waiting}");
    assert!(
        cookie_jar(&res).find("lk_access=").is_none(),
        "not signed in"
    );
    let page =
        body_text(send(&app, page_get("/login?upstream=oidc&problem=prove", "")).await).await;
    assert!(page.contains("An account here already uses the email address Upstream gave"));

    // A session older than the identity's return proves nothing now.
    let res = send(
        &app,
        form_post(
            "/fn/confirm_link",
            "answer=link",
            Some(&format!("{old_session}; {waiting}")),
        ),
    )
    .await;
    assert!(location(&res).contains("__err"), "{:?}", res.headers());
    let linked = counts(&s).await.1;
    assert_eq!(linked, 0);

    // Signing in afresh (here: the password) lands on the confirmation.
    let res = send(
        &app,
        form_post(
            "/fn/login",
            &format!("login={}&password={}", url_enc(&email), url_enc(PASSWORD)),
            Some(&waiting),
        ),
    )
    .await;
    let session = cookie_jar(&res)
        .split("; ")
        .filter(|c| c.starts_with("lk_access=") || c.starts_with("lk_refresh="))
        .collect::<Vec<_>>()
        .join("; ");
    let cookies = format!("{session}; {waiting}");
    let res = send(&app, page_get("/profile", &cookies)).await;
    assert_eq!(location(&res), "/security/link");
    let page = body_text(send(&app, page_get("/security/link", &cookies)).await).await;
    assert!(
        page.contains("You signed in with Upstream as"),
        "{page:.3000}"
    );
    let res = send(
        &app,
        form_post("/fn/confirm_link", "answer=link", Some(&cookies)),
    )
    .await;
    assert_eq!(location(&res), "/security/accounts?upstream=oidc&linked");
    let kinds = events(&s, &id).await;
    assert!(
        kinds.contains(&("identity_linked".into(), Some("oidc".into()))),
        "{kinds:?}"
    );
    let mailed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND subject LIKE '%Upstream account was linked%'",
    )
    .bind(&email)
    .fetch_one(&s.db.pool)
    .await
    .unwrap();
    assert_eq!(mailed, 1, "the owner is told of the new way in");

    // From now on the identity signs in to that account; the session this
    // browser held ends with it.
    let (to, state) = begin(&app, "next=", None).await;
    let answer = upstream.remembered(&to, &there).await;
    let res = back(&app, &answer, &format!("{state}; {session}")).await;
    assert_eq!(location(&res), "/profile");
    assert!(cookie_jar(&res).contains("lk_access="));
    let held = session
        .split("; ")
        .find_map(|c| c.strip_prefix("lk_access="))
        .unwrap();
    let me = Request::get("/api/v1/me")
        .header(header::AUTHORIZATION, format!("Bearer {held}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, me).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unverified_address_opens_and_links_nothing() {
    let upstream = Upstream::start().await;
    let (s, app) = downstream(&upstream, Backend::Sqlite).await;
    let email = format!("{}@example.com", unique_name());
    let there = upstream.person(&email, false).await;
    let (to, state) = begin(&app, "next=", None).await;
    let answer = upstream.consent(&to, &there, true).await;
    let res = back(&app, &answer, &state).await;
    assert_eq!(
        location(&res),
        "/login?upstream=oidc&problem=upstream_no_email"
    );
    assert!(user_id_of(&s, &email).await.is_none());
    let page = body_text(
        send(
            &app,
            page_get("/login?upstream=oidc&problem=upstream_no_email", ""),
        )
        .await,
    )
    .await;
    assert!(page.contains("Upstream did not share a verified email address"));
}

#[tokio::test]
async fn the_state_is_bound_to_its_browser_spent_once_and_a_cancel_is_said() {
    let upstream = Upstream::start().await;
    let (s, app) = downstream(&upstream, Backend::Sqlite).await;
    let email = format!("{}@example.com", unique_name());
    let there = upstream.person(&email, true).await;
    let (to, state) = begin(&app, "next=", None).await;
    let answer = upstream.consent(&to, &there, true).await;

    // Carried to another browser (no state cookie, or another one): refused.
    let (_, other_state) = begin(&app, "next=", None).await;
    for cookies in ["", other_state.as_str()] {
        let res = back(&app, &answer, cookies).await;
        assert_eq!(
            location(&res),
            "/login?upstream=oidc&problem=upstream_expired"
        );
    }
    // Its own browser, the answer sent four times at once: one gets in,
    // the rest are refused (the state is taken once).
    let landed = futures::future::join_all((0..4).map(|_| back(&app, &answer, &state))).await;
    let mut places: Vec<String> = landed.iter().map(location).collect();
    places.sort();
    assert_eq!(
        places,
        [
            "/login?upstream=oidc&problem=upstream_expired",
            "/login?upstream=oidc&problem=upstream_expired",
            "/login?upstream=oidc&problem=upstream_expired",
            "/profile"
        ]
    );
    assert_eq!(counts(&s).await.0, 1);

    // Cancelled at the provider: said so, nothing made.
    let (to, state) = begin(&app, "next=", None).await;
    let cancelled = format!("{BACK}?error=access_denied&state={}", state_in(&to));
    let res = back(&app, &cancelled, &state).await;
    assert_eq!(
        location(&res),
        "/login?upstream=oidc&problem=upstream_cancelled"
    );
    let page = body_text(
        send(
            &app,
            page_get("/login?upstream=oidc&problem=upstream_cancelled", ""),
        )
        .await,
    )
    .await;
    assert!(page.contains("You cancelled signing in at Upstream"));

    // A fresh sign-in an app asked for (its authorization parked) in a
    // browser signed in from before: the refusal keeps it on the log-in
    // page (`?again`), where it is said, instead of sending it on.
    let signed_in = landed
        .iter()
        .map(cookie_jar)
        .find(|jar| jar.contains("lk_access="))
        .expect("the one that got in");
    let (to, state) = begin(&app, "next=", None).await;
    let cancelled = format!("{BACK}?error=access_denied&state={}", state_in(&to));
    let res = back(&app, &cancelled, &format!("{state}; lk_authorize=sealed")).await;
    let again = "/login?upstream=oidc&problem=upstream_cancelled&again";
    assert_eq!(location(&res), again);
    let res = send(
        &app,
        page_get(again, &format!("{signed_in}; lk_authorize=sealed")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res)
        .await
        .contains("You cancelled signing in at Upstream"));

    // An unknown provider, or a problem the page does not know: nothing
    // shown from the address.
    let page = body_text(
        send(
            &app,
            page_get("/login?upstream=evil&problem=upstream_cancelled", ""),
        )
        .await,
    )
    .await;
    assert!(!page.contains("upstream-problem"));
}

/// The same person at two browsers at once: one account, whichever
/// return comes first opens it; the other signs in to it, never a second
/// account.
#[tokio::test]
async fn two_returns_at_once_open_one_account() {
    let upstream = Upstream::start().await;
    let (s, app) = downstream(&upstream, Backend::Postgres).await;
    // Several people in turn, each racing themselves: the window is small.
    for round in 1..=5 {
        let email = format!("{}@example.com", unique_name());
        let there = upstream.person(&email, true).await;
        let (to_a, state_a) = begin(&app, "next=", None).await;
        let answer_a = upstream.consent(&to_a, &there, true).await;
        let (to_b, state_b) = begin(&app, "next=", None).await;
        let answer_b = upstream.remembered(&to_b, &there).await;
        let (a, b) = tokio::join!(
            back(&app, &answer_a, &state_a),
            back(&app, &answer_b, &state_b)
        );
        assert_eq!(
            [location(&a), location(&b)],
            ["/profile", "/profile"],
            "round {round}"
        );
        assert_eq!(counts(&s).await, (round, round));
    }
}

#[tokio::test]
async fn a_signed_in_user_links_with_their_password_and_cannot_remove_the_last_way_in() {
    let upstream = Upstream::start().await;
    let (s, app) = downstream(&upstream, Backend::Sqlite).await;
    // An account made through the provider: no password, no passkey.
    let email = format!("{}@example.com", unique_name());
    let there = upstream.person(&email, true).await;
    let (to, state) = begin(&app, "next=", None).await;
    let answer = upstream.consent(&to, &there, true).await;
    let session = cookie_jar(&back(&app, &answer, &state).await);
    let token = session
        .split("; ")
        .find_map(|c| c.strip_prefix("lk_access="))
        .unwrap()
        .to_owned();
    let res = send(
        &app,
        bearer_post(
            "/api/v1/me/identities/oidc/remove",
            &token,
            json!({ "password": "" }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_error(&body_json(res).await, "conflict");

    // An account whose address is not proven links nothing (it may be a
    // squatter's).
    let signup = |email: String| {
        let app = app.clone();
        async move {
            let res = send(
                &app,
                json_post(
                    "/api/v1/auth/signup",
                    json!({ "email": email, "username": unique_name(), "password": PASSWORD }),
                ),
            )
            .await;
            body_json(res).await
        }
    };
    let squatter = signup(format!("{}@example.org", unique_name())).await;
    let res = send(
        &app,
        form_post(
            "/login/with/oidc",
            &format!("link=1&password={}", url_enc(PASSWORD)),
            Some(&format!(
                "lk_access={}",
                squatter["access_token"].as_str().unwrap()
            )),
        ),
    )
    .await;
    assert_eq!(
        location(&res),
        "/security/accounts?upstream=oidc&problem=verify_first"
    );

    // A proven account with a password links the provider while signed
    // in: the password first.
    let other = format!("{}@example.com", unique_name());
    let there_too = upstream.person(&other, false).await;
    let mine = format!("{}@example.org", unique_name());
    let tokens: Value = signup(mine.clone()).await;
    sqlx::query("UPDATE users SET email_verified = 1 WHERE email = $1")
        .bind(&mine)
        .execute(&s.db.pool)
        .await
        .unwrap();
    let here = format!("lk_access={}", tokens["access_token"].as_str().unwrap());
    let res = send(
        &app,
        form_post("/login/with/oidc", "link=1&password=wrong", Some(&here)),
    )
    .await;
    assert_eq!(
        location(&res),
        "/security/accounts?upstream=oidc&problem=current_password_wrong"
    );
    let (to, state) = begin(
        &app,
        &format!("link=1&password={}", url_enc(PASSWORD)),
        Some(&here),
    )
    .await;
    // Linking takes the identity as it is: the person proved both ends.
    let answer = upstream.consent(&to, &there_too, true).await;
    let res = back(&app, &answer, &format!("{here}; {state}")).await;
    assert_eq!(location(&res), "/security/accounts?upstream=oidc&linked");
    let linked = body_json(
        send(
            &app,
            bearer_get(
                "/api/v1/me/identities",
                tokens["access_token"].as_str().unwrap(),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(linked.as_array().unwrap().len(), 1, "{linked}");
    assert_eq!(
        linked[0]["email"],
        other.as_str(),
        "shown, though unverified"
    );
    // Removing it leaves the password: allowed, and logged.
    let res = send(
        &app,
        bearer_post(
            "/api/v1/me/identities/oidc/remove",
            tokens["access_token"].as_str().unwrap(),
            json!({ "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM audit_events WHERE kind LIKE 'identity_%' ORDER BY at, id",
    )
    .fetch_all(&s.db.pool)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        ["identity_linked", "identity_linked", "identity_unlinked"],
        "the account opened through it, the link, the removal"
    );
}

fn url_enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
