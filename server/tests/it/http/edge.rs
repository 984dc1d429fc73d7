//! What every response carries and what operators see: request ids, security headers, cookie prefixes, CORS, health, readiness, metrics, and two instances sharing one database and store.

use super::*;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app(Backend::Sqlite).await;
    let res = send(&app, page_get("/login", "")).await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let again = send(&app, page_get("/login", "")).await;
    assert_ne!(
        again.headers()["x-request-id"],
        id.as_str(),
        "one per request"
    );
    // An id given by a proxy in front is kept, so both logs line up.
    let mut req = bearer_get("/api/v1/me", "nope");
    req.headers_mut()
        .insert("x-request-id", "lb-1234".parse().unwrap());
    let res = send(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-request-id"], "lb-1234");
    // Anything that is not an id is a visitor's text: replaced, never logged.
    let mut req = bearer_get("/api/v1/me", "nope");
    req.headers_mut().insert(
        "x-request-id",
        "admin logged in \"ok\" ip=1.2.3.4".parse().unwrap(),
    );
    let res = send(&app, req).await;
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn unknown_pages_are_404_and_health_is_ok() {
    let app = app(Backend::Sqlite).await;
    let res = send(
        &app,
        Request::get("/no/such/page").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(body_text(res).await.contains("Page not found"));
    let res = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_is_off_by_default_and_follows_the_configured_origins() {
    let services = common::services(Backend::Sqlite).await;
    let allowed = "https://app.example.com";
    let app = server::router::build_with(
        services,
        leptos_options(),
        server::router::Edge {
            cors_origins: vec![allowed.to_owned()],
            ..server::router::Edge::new(ORIGIN)
        },
    );
    let preflight = |origin: &str| {
        Request::options("/api/v1/auth/login")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let ok = send(&app, preflight(allowed)).await;
    assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], allowed);
    let other = send(&app, preflight("https://evil.example")).await;
    assert!(other
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    // A real cross-origin call from the allowed origin passes the CSRF check.
    let mut login = json_post(
        "/api/v1/auth/login",
        json!({ "login": "nobody-here", "password": "x" }),
    );
    login
        .headers_mut()
        .insert(header::ORIGIN, allowed.parse().unwrap());
    let res = send(&app, login).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "checked credentials, not refused as cross-site"
    );
    assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], allowed);

    // A browser signed in here: its cookies never authenticate a call from
    // the CORS origin (a sibling subdomain gets SameSite=Lax cookies sent),
    // and that origin may not post our forms or server functions at all.
    let name = common::unique_name();
    let form =
        format!("email={name}%40example.com&username={name}&password=correct+horse+battery+staple");
    let jar = cookie_jar(&send(&app, form_post("/fn/signup", &form, None)).await);
    let from_allowed = |mut req: Request<Body>| {
        req.headers_mut()
            .insert(header::ORIGIN, allowed.parse().unwrap());
        req.headers_mut()
            .insert(header::COOKIE, jar.parse().unwrap());
        req
    };
    let patch = Request::patch("/api/v1/me")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "username": "taken_over" }).to_string()))
        .unwrap();
    let res = send(&app, from_allowed(patch)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "cookies ignored");
    let res = send(&app, from_allowed(form_post("/fn/logout", "", None))).await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "server functions refused"
    );
    let page = send(&app, page_get("/profile", &jar)).await;
    assert_eq!(page.status(), StatusCode::OK, "still signed in, unchanged");
    assert!(body_text(page).await.contains(&name));

    let default = app_default_cors().await;
    let none = send(&default, preflight(allowed)).await;
    assert!(none
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
}

/// Two server instances on two ports, each with its own connection pool,
/// Redis connection and memory of live sessions, sharing one PostgreSQL
/// database and one Redis namespace: a session started on one is refreshed
/// and ended on the other; whatever one instance changes (a role, a
/// disabled account, a password, a log-out, an ended session), the other
/// stops answering from memory within a second, measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions_and_revocation() {
    let url = common::fresh_db_url(Backend::Postgres).await;
    let prefix = format!("lktest:{}:", uuid::Uuid::new_v4().simple());
    let mut ports = Vec::new();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let services = latchkey_core::Services::new(
            common::connect(&url).await,
            std::sync::Arc::new(common::redis_store_in(&prefix).await),
            latchkey_core::AuthConfig::for_tests(),
            common::letters(),
        );
        instances.push(services.clone());
        let app = server::router::build(services, leptos_options(), ORIGIN);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        ports.push(listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
    }
    for services in &instances {
        let start = std::time::Instant::now();
        while !services.session_cache.usable() {
            assert!(start.elapsed().as_secs() < 5, "never heard the channel");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let (a, b) = (ports[0], ports[1]);
    let signup = |name: String| async move {
        let (status, tokens) = over_tcp(
            a,
            "POST",
            "/api/v1/auth/signup",
            None,
            Some(json!({
                "email": format!("{name}@example.com"), "username": name, "password": PASSWORD
            })),
        )
        .await;
        assert_eq!(status, 201, "{tokens}");
        tokens
    };
    let login = |name: String| async move {
        let (status, tokens) = over_tcp(
            a,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({ "login": name, "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    };
    let name = unique_name();
    signup(name.clone()).await;
    let tokens = login(name.clone()).await;
    let (status, refreshed) = over_tcp(
        b,
        "POST",
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": tokens["refresh_token"] })),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        over_tcp(a, "GET", "/api/v1/me", Some(&access), None)
            .await
            .0,
        200
    );

    assert_eq!(
        over_tcp(b, "POST", "/api/v1/auth/logout", Some(&access), None)
            .await
            .0,
        204
    );
    for port in [a, b] {
        assert_eq!(
            over_tcp(port, "GET", "/api/v1/me", Some(&access), None)
                .await
                .0,
            401,
            "port {port}"
        );
    }
    // The ended session cannot be refreshed on either instance.
    let (status, _) = over_tcp(
        a,
        "POST",
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": tokens["refresh_token"] })),
    )
    .await;
    assert_eq!(status, 401);

    // Held on B (two requests), changed through A: how long B goes on.
    let cache_b = instances[1].session_cache.clone();
    let held_on_b = |token: String| {
        let cache_b = cache_b.clone();
        async move {
            let (_, info) = over_tcp(b, "GET", "/api/v1/auth/token-info", Some(&token), None).await;
            let (status, me) = over_tcp(b, "GET", "/api/v1/me", Some(&token), None).await;
            assert_eq!(status, 200, "{me}");
            let (sid, uid) = (
                info["session_id"].as_str().unwrap(),
                me["id"].as_str().unwrap(),
            );
            assert!(
                cache_b.get(sid, uid, latchkey_core::now()).is_some(),
                "B answers from memory"
            );
        }
    };
    let until_b_sees = |token: String, what: &'static str, seen: fn(u16, &Value) -> bool| async move {
        let start = std::time::Instant::now();
        loop {
            let (status, body) = over_tcp(b, "GET", "/api/v1/me", Some(&token), None).await;
            if seen(status, &body) {
                let took = start.elapsed();
                eprintln!("instance B saw the {what} after {took:?}");
                assert!(took.as_millis() < 1000, "{what}: {took:?}");
                return;
            }
            assert!(
                start.elapsed().as_secs() < 2,
                "{what}: B still answers {status} {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    };
    let signed_out = |status: u16, _: &Value| status == 401;
    let token_of = |tokens: &Value| tokens["access_token"].as_str().unwrap().to_owned();

    let admin_name = unique_name();
    instances[0]
        .admin()
        .create_admin(
            &format!("{admin_name}@example.com"),
            &admin_name,
            false,
            || Ok(PASSWORD.into()),
        )
        .await
        .unwrap();
    let admin = token_of(&login(admin_name).await);
    let name = unique_name();
    let user = token_of(&signup(name.clone()).await);
    let (_, me) = over_tcp(b, "GET", "/api/v1/me", Some(&user), None).await;
    let id = me["id"].as_str().unwrap().to_owned();
    held_on_b(user.clone()).await;
    let admin_change = |change: Value| {
        let (admin, id) = (admin.clone(), id.clone());
        async move {
            let path = format!("/api/v1/admin/users/{id}");
            let (status, body) = over_tcp(a, "PATCH", &path, Some(&admin), Some(change)).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    admin_change(json!({ "role": "admin" })).await;
    until_b_sees(user.clone(), "role change", |status, me| {
        status == 200 && me["role"] == "admin"
    })
    .await;
    held_on_b(user.clone()).await;
    admin_change(json!({ "disabled": true })).await;
    until_b_sees(user, "disabling", signed_out).await;

    let name = unique_name();
    let first = token_of(&signup(name.clone()).await);
    let second = token_of(&login(name.clone()).await);
    held_on_b(second.clone()).await;
    let (status, body) = over_tcp(
        a,
        "POST",
        "/api/v1/me/password",
        Some(&first),
        Some(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    until_b_sees(second, "password change", signed_out).await;

    let name = unique_name();
    let first = token_of(&signup(name.clone()).await);
    held_on_b(first.clone()).await;
    assert_eq!(
        over_tcp(a, "POST", "/api/v1/auth/logout", Some(&first), None)
            .await
            .0,
        204
    );
    until_b_sees(first, "log-out", signed_out).await;

    let name = unique_name();
    let first = token_of(&signup(name.clone()).await);
    let second = login(name).await;
    let (_, info) = over_tcp(
        a,
        "GET",
        "/api/v1/auth/token-info",
        Some(&token_of(&second)),
        None,
    )
    .await;
    let second_id = info["session_id"].as_str().unwrap().to_owned();
    held_on_b(token_of(&second)).await;
    let path = format!("/api/v1/me/sessions/{second_id}");
    assert_eq!(
        over_tcp(a, "DELETE", &path, Some(&first), None).await.0,
        204
    );
    until_b_sees(token_of(&second), "ended session", signed_out).await;
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_everything_the_safe_headers() {
    let app = app(Backend::Sqlite).await;
    let page = send(&app, page_get("/login", "")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the page CSP");
    assert_eq!(page.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(
        page.headers()[header::REFERRER_POLICY],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
    let html = body_text(page).await;
    // Every inline script is allowed by that nonce, and only by it.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for script in scripts {
        let tag = &script[..script.find('>').unwrap()];
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "<script{tag}>");
    }
    // Another response, another nonce.
    let again = send(&app, page_get("/login", "")).await;
    assert!(!again.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains(nonce));

    let api = send(&app, bearer_get("/api/v1/me", "x")).await;
    assert!(api.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    assert!(
        api.headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none(),
        "http: no HSTS"
    );

    let https = server::router::build(
        common::services(Backend::Sqlite).await,
        leptos_options(),
        "https://auth.example.com",
    );
    let res = send(&https, page_get("/healthz", "")).await;
    assert!(res.headers()[header::STRICT_TRANSPORT_SECURITY]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
}

// Over https every cookie we set carries the `__Host-` prefix (Secure,
// Path=/, no Domain), and only the prefixed name is read back, so a cookie
// planted by a sibling subdomain under the bare name signs nobody in.
#[tokio::test]
async fn https_cookies_carry_the_host_prefix() {
    let public = "https://auth.example.com";
    let mut config = latchkey_core::AuthConfig::for_tests();
    config.secure_cookies = true;
    config.public_url = public.into();
    let app = server::router::build(
        common::services_with(Backend::Sqlite, config).await,
        leptos_options(),
        public,
    );
    let name = common::unique_name();
    let form =
        format!("email={name}%40example.com&username={name}&password=correct+horse+battery+staple");
    let mut signup = form_post("/fn/signup", &form, None);
    signup
        .headers_mut()
        .insert(header::ORIGIN, public.parse().unwrap());
    let res = send(&app, signup).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let set = set_cookies(&res);
    for base in ["lk_access", "lk_refresh", "lk_device"] {
        assert!(
            set.iter().any(|c| c.starts_with(&format!("__Host-{base}="))
                && c.contains("Secure")
                && c.contains("Path=/")
                && !c.contains("Domain")),
            "{base} in {set:?}"
        );
    }
    let jar = cookie_jar(&res);
    let page = send(&app, page_get("/profile", &jar)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let tossed = jar.replace("__Host-", "");
    let page = send(&app, page_get("/profile", &tossed)).await;
    assert_eq!(page.status(), StatusCode::FOUND, "bare names are not ours");
}

on_both_backends!(readiness_reports_the_database_and_the_store, |backend| {
    let app = app(backend).await;
    let res = send(&app, page_get("/readyz", "")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = body_json(res).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["store"]["status"], "ok");
});

#[tokio::test]
async fn readiness_fails_clearly_when_the_database_is_gone() {
    let services = common::services(Backend::Sqlite).await;
    services.db.pool.close().await;
    let app = server::router::build(services, leptos_options(), ORIGIN);
    let res = send(&app, page_get("/readyz", "")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = body_json(res).await;
    assert_eq!(body["database"], "unavailable");
    assert_eq!(
        send(&app, page_get("/healthz", "")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_logins_by_outcome() {
    let app = app(Backend::Sqlite).await;
    let (name, _) = api_signup(&app).await;
    let wrong = json_post(
        "/api/v1/auth/login",
        json!({ "login": name, "password": "not it at all" }),
    );
    assert_eq!(send(&app, wrong).await.status(), StatusCode::UNAUTHORIZED);
    let _ = send(&app, page_get("/login", "")).await;
    let _ = send(&app, page_get("/api/v1/me/sessions/some-id", "")).await;

    // Never on the public listener…
    let public = send(&app, page_get("/metrics", "")).await;
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    // …only on the metrics one.
    let metrics = server::metrics::router(common::services(Backend::Sqlite).await);
    let res = send(&metrics, page_get("/metrics", "")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = body_text(res).await;
    for needle in [
        r#"latchkey_http_requests_total{method="POST",route="/api/v1/auth/login",status="401"}"#,
        r#"route="/login",status="200""#,
        r#"latchkey_logins_total{outcome="invalid_credentials"}"#,
        "latchkey_http_request_duration_seconds",
        "latchkey_hash_jobs_in_flight",
        "latchkey_outbox_depth",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    assert!(!text.contains("some-id"), "raw paths never become labels");
}
