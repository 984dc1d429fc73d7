//! PostgreSQL or Redis going away: requests that need it get a clear 503
//! (never a panic or a 500, never a false "signed out"), requests that do
//! not need it keep working, and the app recovers by itself.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::proxy::Proxy;
use common::{leptos_options, unique_name, Backend, PASSWORD};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Polls until `check` passes, for up to `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outages_answer_503_and_heal_by_themselves() {
    let pg_url = common::fresh_db_url(Backend::Postgres).await;
    let pg = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let redis = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let db =
        common::connect(&pg_url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", pg.port))).await;
    let store = latchkey_core::RedisStore::connect(
        &format!("redis://127.0.0.1:{}", redis.port),
        &format!("lktest:{}:", uuid::Uuid::new_v4().simple()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}\n(cause: {e})", common::REDIS_HINT));
    let services = latchkey_core::Services::new(
        db,
        Arc::new(store),
        latchkey_core::AuthConfig::for_tests(),
        common::letters(),
    );
    let cache = services.session_cache.clone();
    let app = server::router::build(services, leptos_options(), "http://127.0.0.1:3000");

    let name = unique_name();
    let email = format!("{name}@example.com");
    let (status, tokens) = call(
        &app,
        "POST",
        "/api/v1/auth/signup",
        None,
        Some(json!({
            "email": email, "username": name, "password": PASSWORD
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let login = || async {
        let body = json!({ "login": name, "password": PASSWORD });
        call(&app, "POST", "/api/v1/auth/login", None, Some(body))
            .await
            .0
    };
    let code_request = || {
        call(
            &app,
            "POST",
            "/api/v1/auth/code",
            None,
            Some(json!({ "email": format!("{}@example.com", unique_name()) })),
        )
    };

    // Redis goes away: what needs it is 503, what does not still works.
    redis.cut();
    let (status, body) = code_request().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(
        call(&app, "GET", "/readyz", None, None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/me", Some(&access), None).await.0,
        StatusCode::OK
    );
    eventually(
        5,
        "memory is not trusted while the channel is lost",
        || async { !cache.usable() },
    )
    .await;
    redis.restore();
    eventually(15, "Redis requests recover", || async {
        code_request().await.0 == StatusCode::ACCEPTED
    })
    .await;

    // PostgreSQL goes away. A session held in memory is still answered;
    // one that is not hears 503, not 401.
    eventually(15, "the session cache hears its channel again", || async {
        cache.usable()
    })
    .await;
    let (status, fresh) = call(
        &app,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({ "login": name, "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let unheld = fresh["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&app, "GET", "/api/v1/me", Some(&access), None).await.0,
        StatusCode::OK
    );
    pg.cut();
    assert_eq!(
        call(&app, "GET", "/api/v1/me", Some(&access), None).await.0,
        StatusCode::OK,
        "held in memory"
    );
    let (status, body) = call(&app, "GET", "/api/v1/me", Some(&unheld), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let status = login().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, ready) = call(&app, "GET", "/readyz", None, None).await;
    assert_eq!(
        (status, &ready["database"]),
        (StatusCode::SERVICE_UNAVAILABLE, &json!("unavailable"))
    );
    pg.restore();
    eventually(15, "database requests recover", || async {
        call(&app, "GET", "/api/v1/me", Some(&access), None).await.0 == StatusCode::OK
    })
    .await;
    let status = login().await;
    assert_eq!(
        status,
        StatusCode::OK,
        "nothing was lost: the account is there"
    );
    assert_eq!(
        call(&app, "GET", "/readyz", None, None).await.0,
        StatusCode::OK
    );
}
