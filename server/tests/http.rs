//! The whole router, as production builds it, driven over HTTP in-process:
//! the JSON API, the server functions behind the forms, and SSR pages.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::http::*;
use common::{leptos_options, unique_name, Backend};
use serde_json::{json, Value};

use common::PASSWORD;

async fn app(backend: Backend) -> Router {
    server::router::build(common::services(backend).await, leptos_options(), ORIGIN)
}

async fn api_signup(app: &Router) -> (String, Value) {
    let name = unique_name();
    let res = send(
        app,
        json_post(
            "/api/v1/auth/signup",
            json!({ "email": format!("{name}@example.com"), "username": name, "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    (name, body_json(res).await)
}

on_both_backends!(api_account_life_cycle, |backend| {
    let app = app(backend).await;
    let (name, tokens) = api_signup(&app).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let login = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({ "login": name, "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        login.headers()[header::CACHE_CONTROL],
        "no-store",
        "a response carrying tokens"
    );
    assert!(tokens["expires_in"].as_i64().unwrap() > 800);
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let me = body_json(send(&app, bearer_get("/api/v1/me", &access)).await).await;
    assert_eq!(me["username"], name.as_str());

    let info = body_json(send(&app, bearer_get("/api/v1/auth/token-info", &access)).await).await;
    assert!(info["expires_in"].as_i64().unwrap() > 800);
    assert!(info["session_id"].as_str().is_some());

    let login = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({ "login": name, "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);

    let refreshed = send(
        &app,
        json_post(
            "/api/v1/auth/refresh",
            json!({ "refresh_token": tokens["refresh_token"] }),
        ),
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = body_json(refreshed).await;
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);

    let mut logout = bearer_get("/api/v1/auth/logout", &access);
    *logout.method_mut() = axum::http::Method::POST;
    assert_eq!(send(&app, logout).await.status(), StatusCode::NO_CONTENT);

    let after = send(&app, bearer_get("/api/v1/me", &access)).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert!(after.headers().contains_key(header::WWW_AUTHENTICATE));
    assert_error(&body_json(after).await, "unauthorized");
});

on_both_backends!(api_bad_input_is_4xx_with_the_error_shape, |backend| {
    let app = app(backend).await;
    let (name, _) = api_signup(&app).await;

    let bad_json = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let res = send(&app, bad_json).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_error(&body_json(res).await, "bad_request");

    for body in [
        json!({ "login": name }),
        json!({ "login": 5, "password": [] }),
        json!([]),
    ] {
        let res = send(&app, json_post("/api/v1/auth/login", body)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_error(&body_json(res).await, "bad_request");
    }

    let res = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({ "login": name, "password": "nope nope" }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_error(&body_json(res).await, "invalid_credentials");

    let res = send(
        &app,
        json_post("/api/v1/auth/signup", json!({ "email": format!("{name}@example.com"), "username": unique_name(), "password": PASSWORD })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = body_json(res).await;
    assert_error(&body, "email_taken");
    assert_eq!(body["error"]["field"], "email");

    let huge = json!({ "login": "x".repeat(200_000), "password": "y" });
    let res = send(&app, json_post("/api/v1/auth/login", huge)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    for token in [
        "garbage",
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.",
        "",
    ] {
        let res = send(&app, bearer_get("/api/v1/me", token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_error(&body_json(res).await, "unauthorized");
    }
});

on_both_backends!(browser_forms_work_without_javascript, |backend| {
    let app = app(backend).await;
    let name = unique_name();
    let form =
        format!("email={name}%40example.com&username={name}&password=correct+horse+battery+staple");
    let res = send(&app, form_post("/fn/signup", &form, None)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/verify");
    let set: Vec<_> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(set.iter().any(|c| c.starts_with("lk_access=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Lax")));
    assert!(set
        .iter()
        .any(|c| c.starts_with("lk_refresh=") && c.contains("HttpOnly")));
    assert!(
        set.iter()
            .any(|c| c.starts_with("lk_device=") && c.contains("HttpOnly")),
        "this browser is known to the account from now on: {set:?}"
    );
    let jar = cookie_jar(&res);

    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");

    // The server-rendered profile already shows the user, and no cache
    // may keep it.
    let page = send(&app, page_get("/profile", &jar)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = body_text(page).await;
    assert!(
        html.contains(&format!("{name}@example.com")),
        "profile shows the email"
    );
    assert!(
        html.contains("data-testid=\"nav-user\""),
        "header shows the signed-in state"
    );

    // A wrong password comes back to the form with the error in the URL,
    // which the SSR page renders.
    let res = send(
        &app,
        form_post(
            "/fn/login",
            &format!("login={name}&password=wrong+password"),
            None,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(back.contains("__err="), "{back}");

    // Log out revokes the session: the old cookies no longer sign anyone in.
    let res = send(&app, form_post("/fn/logout", "", Some(&jar))).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let page = send(&app, page_get("/profile", &jar)).await;
    assert_eq!(
        page.status(),
        StatusCode::FOUND,
        "signed-out profile redirects"
    );
    assert_eq!(page.headers()[header::LOCATION], "/login");
});

on_both_backends!(
    an_expired_access_cookie_is_refreshed_on_page_load,
    |backend| {
        let app = app(backend).await;
        let name = unique_name();
        let form = format!(
            "email={name}%40example.com&username={name}&password=correct+horse+battery+staple"
        );
        let res = send(&app, form_post("/fn/signup", &form, None)).await;
        let refresh_only: String = cookie_jar(&res)
            .split("; ")
            .filter(|c| c.starts_with("lk_refresh="))
            .collect();
        let page = send(&app, page_get("/profile", &refresh_only)).await;
        assert_eq!(page.status(), StatusCode::OK);
        let renewed = cookie_jar(&page);
        assert!(
            renewed.contains("lk_access=") && renewed.contains("lk_refresh="),
            "{renewed}"
        );
        assert!(
            !renewed.contains(&refresh_only),
            "the refresh token rotated"
        );
        assert!(body_text(page).await.contains(&name));
    }
);

on_both_backends!(cross_site_posts_are_refused, |backend| {
    let app = app(backend).await;
    let name = unique_name();
    let mut req = form_post(
        "/fn/signup",
        &format!(
            "email={name}%40example.com&username={name}&password=correct+horse+battery+staple"
        ),
        None,
    );
    req.headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let res = send(&app, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_error(&body_json(res).await, "forbidden");
    // GET-encoded calls of state-changing server functions do not exist.
    let res = send(
        &app,
        Request::get("/fn/logout").body(Body::empty()).unwrap(),
    )
    .await;
    assert_ne!(res.status(), StatusCode::OK);
});

on_both_backends!(server_function_errors_carry_their_status, |backend| {
    let app = app(backend).await;
    // A hydrated page calls server functions with fetch (no text/html).
    let call = |uri: &str, form: &str| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .body(Body::from(form.to_owned()))
            .unwrap()
    };
    let res = send(&app, call("/fn/login", "login=nobody&password=whatever")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_error_body(&body_json(res).await, "invalid_credentials");
    let res = send(
        &app,
        call(
            "/fn/signup",
            "email=bad&username=ok_name&password=long+enough+pw",
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_error_body(&body_json(res).await, "invalid_input");
    let res = send(&app, call("/fn/signup", "nonsense")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = send(&app, call("/fn/update_username", "username=someone")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
});

/// Server functions send the bare `AppError`, not the API's envelope.
fn assert_error_body(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
}

on_both_backends!(api_email_verification_by_code, |backend| {
    let services = common::services(backend).await;
    let (port, inbox) = common::smtp::start().await;
    common::start_outbox(&services, port);
    let app = server::router::build(services, leptos_options(), ORIGIN);
    let (name, tokens) = api_signup(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let code = common::smtp::code_in(&inbox.wait_for(&format!("{name}@example.com"), 10).await);

    let mut again = bearer_get("/api/v1/me/email/code", access);
    *again.method_mut() = axum::http::Method::POST;
    let res = send(&app, again).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    assert_error(&body_json(res).await, "rate_limited");

    let mut verify = json_post("/api/v1/me/email/verify", json!({ "code": code }));
    verify.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {access}").parse().unwrap(),
    );
    let res = send(&app, verify).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_json(res).await["email_verified"], true);
});

on_both_backends!(api_sign_in_by_code, |backend| {
    let services = common::services(backend).await;
    let (port, inbox) = common::smtp::start().await;
    common::start_outbox(&services, port);
    let app = server::router::build(services, leptos_options(), ORIGIN);
    let (name, _) = api_signup(&app).await;
    let email = format!("{name}@example.com");
    inbox.wait_for(&email, 10).await; // the verification mail

    let res = send(
        &app,
        json_post("/api/v1/auth/code", json!({ "email": email })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let code = loop {
        let mail = inbox.wait_for(&email, 10).await;
        if mail.contains("sign-in code") {
            break common::smtp::code_in(&mail);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let res = send(
        &app,
        json_post(
            "/api/v1/auth/code/verify",
            json!({ "email": email, "code": code }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens = body_json(res).await;
    assert_eq!(tokens["user"]["email_verified"], true);
    let me = send(
        &app,
        bearer_get("/api/v1/me", tokens["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK);

    let unknown = json!({ "email": format!("{}@example.com", unique_name()) });
    let res = send(&app, json_post("/api/v1/auth/code", unknown)).await;
    assert_eq!(
        res.status(),
        StatusCode::ACCEPTED,
        "the same answer for unknown addresses"
    );
});

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

on_both_backends!(
    password_api_answers_alike_and_refuses_bad_input,
    |backend| {
        let app = app(backend).await;
        let (name, tokens) = api_signup(&app).await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();

        // Known and unknown addresses: the same status and the same (empty) body.
        let mut answers = Vec::new();
        for email in [
            format!("{name}@example.com"),
            format!("{}@example.com", unique_name()),
        ] {
            let res = send(
                &app,
                json_post("/api/v1/password/forgot", json!({ "email": email })),
            )
            .await;
            answers.push((res.status(), body_text(res).await));
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].0, StatusCode::ACCEPTED);

        let bad = send(
            &app,
            json_post("/api/v1/password/forgot", json!({ "email": "nope" })),
        )
        .await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_error(&body_json(bad).await, "invalid_input");

        for body in [
            json!({ "token": "abc", "password": "a brand new passphrase" }),
            json!({ "token": "x".repeat(43), "password": "a brand new passphrase" }),
        ] {
            let res = send(&app, json_post("/api/v1/password/reset", body)).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            assert_error(&body_json(res).await, "link_invalid");
        }
        for body in [json!({ "token": 5 }), json!({}), json!([1, 2])] {
            let res = send(&app, json_post("/api/v1/password/reset", body)).await;
            assert!(res.status().is_client_error(), "{}", res.status());
            assert!(body_json(res).await["error"]["code"].is_string());
        }

        let meter = body_json(
            send(
                &app,
                json_post(
                    "/api/v1/password/strength",
                    json!({ "password": "password1" }),
                ),
            )
            .await,
        )
        .await;
        assert_eq!(meter["acceptable"], false);
        assert_eq!(meter["score"], 0);
        let meter = body_json(
            send(
                &app,
                json_post(
                    "/api/v1/password/strength",
                    json!({ "password": "plum nebula quietly sings" }),
                ),
            )
            .await,
        )
        .await;
        assert_eq!(meter["acceptable"], true);
        assert!(meter["score"].as_u64().unwrap() >= 3, "{meter}");

        let change =
            json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" });
        let anonymous = send(&app, json_post("/api/v1/me/password", change.clone())).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let wrong = send(
        &app,
        bearer_post(
            "/api/v1/me/password",
            &access,
            json!({ "current_password": "not it at all", "new_password": "a brand new passphrase" }),
        ),
    )
    .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_error(&body_json(wrong).await, "invalid_credentials");
        let ok = send(&app, bearer_post("/api/v1/me/password", &access, change)).await;
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);

        let gone = send(
            &app,
            bearer_post(
                "/api/v1/me/delete",
                &access,
                json!({ "password": "a brand new passphrase" }),
            ),
        )
        .await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
        let after = send(&app, bearer_get("/api/v1/me", &access)).await;
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    }
);

on_both_backends!(
    email_change_and_its_undo_over_the_api_and_as_plain_forms,
    |backend| {
        let (s, inbox) =
            common::services_with_smtp(backend, latchkey_core::AuthConfig::for_tests()).await;
        let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
        let (name, tokens) = api_signup(&app).await;
        let old = format!("{name}@example.com");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        // Only a verified address gets the power to undo a change.
        let code = common::smtp::code_in(&inbox.wait_for_subject(&old, "verification code").await);
        let res = send(
            &app,
            bearer_post("/api/v1/me/email/verify", &access, json!({ "code": code })),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let new_email = format!("moved-{name}@example.com");
        let change = |password: &str| {
            bearer_post(
                "/api/v1/me/email/change",
                &access,
                json!({ "new_email": new_email, "password": password }),
            )
        };
        let res = send(&app, change("")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body_json(res).await["error"]["field"], "password");
        let res = send(&app, change("not my password at all")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_error(&body_json(res).await, "invalid_credentials");
        let res = send(&app, change(PASSWORD)).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let code = common::smtp::code_in(
            &inbox
                .wait_for_subject(&new_email, "change your email")
                .await,
        );
        let res = send(
            &app,
            bearer_post(
                "/api/v1/me/email/change/confirm",
                &access,
                json!({ "new_email": new_email, "code": code }),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_json(res).await["email"], new_email.as_str());

        // The old address's link opens a page with one button (a scanner
        // fetching the link changes nothing), which works as a plain form.
        let token = common::smtp::revert_token_in(
            &inbox.wait_for_subject(&old, "email address of your").await,
        );
        // The token leaves the URL first, as a reset link's does.
        let landing = send(&app, page_get(&format!("/email/revert?token={token}"), "")).await;
        assert_eq!(landing.status(), StatusCode::FOUND);
        assert_eq!(landing.headers()[header::LOCATION], "/email/revert");
        assert_eq!(landing.headers()[header::REFERRER_POLICY], "no-referrer");
        let jar = cookie_jar(&landing);
        assert_eq!(jar, format!("lk_revert={token}"));
        let page = send(&app, page_get("/email/revert", &jar)).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = body_text(page).await;
        assert!(html.contains(&old) && html.contains(&new_email), "{html}");
        assert!(
            html.contains("action=\"/fn/revert_email_change\"") && !html.contains(&token),
            "{html}"
        );
        let res = send(&app, form_post("/fn/revert_email_change", "", Some(&jar))).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(res.headers()[header::LOCATION], "/email/revert?done=1");
        let res = send(&app, bearer_get("/api/v1/me", &access)).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "every session ended"
        );
        // Used: the API says so, and so does the page.
        let res = send(
            &app,
            json_post("/api/v1/email/revert", json!({ "token": token })),
        )
        .await;
        assert_eq!(res.status(), StatusCode::GONE);
        assert_error(&body_json(res).await, "link_expired");
        let page = send(&app, page_get("/email/revert", &jar)).await;
        assert!(body_text(page).await.contains("This link was already used"));
        let res = send(
            &app,
            json_post("/api/v1/email/revert", json!({ "token": "short" })),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_error(&body_json(res).await, "link_invalid");
    }
);

// SIGNUP_HIDE_EXISTING over the API and as plain forms: 202 without a
// session for taken and free addresses alike; the code and the sign-up's
// token (a cookie, for browsers) finish it.
on_both_backends!(hidden_signup_over_the_api_and_as_plain_forms, |backend| {
    let config = latchkey_core::AuthConfig {
        signup_hide_existing: true,
        ..latchkey_core::AuthConfig::for_tests()
    };
    let (s, inbox) = common::services_with_smtp(backend, config).await;
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let taken = common::sign_up(&s).await.email;
    let free = format!("{}@example.com", unique_name());
    let mut tokens = Vec::new();
    for email in [&taken, &free] {
        let res = send(
            &app,
            json_post(
                "/api/v1/auth/signup",
                json!({ "email": email, "username": unique_name(), "password": PASSWORD }),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED, "{email}");
        let body = body_json(res).await;
        assert_eq!(body["email"], email.as_str());
        assert!(body.get("access_token").is_none(), "no session: {body}");
        let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        tokens.push((keys, body["signup_token"].as_str().unwrap().to_owned()));
    }
    assert_eq!(tokens[0].0, tokens[1].0, "the same shape either way");
    let code = common::smtp::code_in(&inbox.wait_for_subject(&free, "finish signing up").await);
    let res = send(
        &app,
        json_post(
            "/api/v1/auth/signup/verify",
            json!({ "email": free, "code": code, "signup_token": tokens[1].1 }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = body_json(res).await;
    assert_eq!(session["user"]["email_verified"], true);

    // The browser's way: the form posts, the token rides in a cookie.
    let email = format!("{}@example.com", unique_name());
    let form = format!(
        "email={}&username={}&password=correct+horse+battery+staple",
        email.replace('@', "%40"),
        unique_name()
    );
    let res = send(&app, form_post("/fn/signup", &form, None)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/signup/code?email="), "{to}");
    let jar = cookie_jar(&res);
    assert!(jar.starts_with("lk_signup="), "{jar}");
    let page = body_text(send(&app, page_get(&to, &jar)).await).await;
    assert!(page.contains("action=\"/fn/finish_signup\""), "{page}");
    let code = common::smtp::code_in(&inbox.wait_for_subject(&email, "finish signing up").await);
    let finish = format!("email={}&code={code}", email.replace('@', "%40"));
    let res = send(&app, form_post("/fn/finish_signup", &finish, None)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(
        res.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("__err="),
        "no cookie, no sign-up"
    );
    let res = send(&app, form_post("/fn/finish_signup", &finish, Some(&jar))).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/profile");
    let profile = body_text(send(&app, page_get("/profile", &cookie_jar(&res))).await).await;
    assert!(profile.contains(&email), "signed in");
});

on_both_backends!(reset_pages_work_without_javascript, |backend| {
    let app = app(backend).await;
    // The emailed link moves its token into a cookie and out of the URL.
    let landing = send(&app, page_get("/reset?token=not-a-real-token", "")).await;
    assert_eq!(landing.status(), StatusCode::FOUND);
    assert_eq!(landing.headers()[header::LOCATION], "/reset");
    assert_eq!(landing.headers()[header::REFERRER_POLICY], "no-referrer");
    let jar = cookie_jar(&landing);
    assert_eq!(jar, "lk_reset=not-a-real-token");
    let page = send(&app, page_get("/reset", &jar)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(page).await;
    assert!(html.contains("This reset link is not valid"), "{html}");
    assert!(html.contains("href=\"/forgot\""), "offers a new link");

    let res = send(
        &app,
        form_post("/fn/forgot_password", "email=Someone%40Example.com", None),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/forgot?sent=someone%40example.com"
    );
    let sent =
        body_text(send(&app, page_get("/forgot?sent=someone%40example.com", "")).await).await;
    assert!(sent.contains("If an account exists for"), "{sent}");
});

on_both_backends!(oauth2_password_grant_speaks_rfc_6749, |backend| {
    let app = app(backend).await;
    let (name, _) = api_signup(&app).await;

    let res = send(
        &app,
        form_api_post(
            "/api/v1/auth/token",
            &format!("grant_type=password&username={name}&password=correct+horse+battery+staple"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let tokens = body_json(res).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    let me = send(&app, bearer_get("/api/v1/me", access)).await;
    assert_eq!(me.status(), StatusCode::OK);

    let refreshed = send(
        &app,
        form_api_post(
            "/api/v1/auth/token",
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                tokens["refresh_token"].as_str().unwrap()
            ),
        ),
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    for (form, error) in [
        (
            format!("grant_type=password&username={name}&password=wrong"),
            "invalid_grant",
        ),
        (
            "grant_type=password&username=nobody-here&password=whatever".to_owned(),
            "invalid_grant",
        ),
        (
            "grant_type=password&username=x".to_owned(),
            "invalid_request",
        ),
        (
            "grant_type=client_credentials".to_owned(),
            "unsupported_grant_type",
        ),
        (
            "grant_type=refresh_token&refresh_token=forged".to_owned(),
            "invalid_grant",
        ),
        ("".to_owned(), "invalid_request"),
    ] {
        let res = send(&app, form_api_post("/api/v1/auth/token", &form)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{form}");
        let body = body_json(res).await;
        assert_eq!(body["error"], error, "{form}: {body}");
        assert!(body["error_description"].is_string());
    }
    let json = send(
        &app,
        json_post("/api/v1/auth/token", json!({ "grant_type": "password" })),
    )
    .await;
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(json).await["error"], "invalid_request");
});

on_both_backends!(sessions_are_listed_and_ended_over_the_api, |backend| {
    let app = app(backend).await;
    let (name, first) = api_signup(&app).await;
    let first = first["access_token"].as_str().unwrap().to_owned();
    let login = |n: &str| {
        json_post(
            "/api/v1/auth/login",
            json!({ "login": n, "password": PASSWORD }),
        )
    };
    let second = body_json(send(&app, login(&name)).await).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = body_json(send(&app, login(&name)).await).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let list = body_json(send(&app, bearer_get("/api/v1/me/sessions", &first)).await).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let second_id = body_json(send(&app, bearer_get("/api/v1/auth/token-info", &second)).await)
        .await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let ended = send(
        &app,
        bearer_delete(&format!("/api/v1/me/sessions/{second_id}"), &first),
    )
    .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    let refused = send(&app, bearer_get("/api/v1/me", &second)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let again = send(
        &app,
        bearer_delete(&format!("/api/v1/me/sessions/{second_id}"), &first),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_error(&body_json(again).await, "not_found");

    // Someone else's session id is "not found" too.
    let (_, stranger) = api_signup(&app).await;
    let stranger = stranger["access_token"].as_str().unwrap().to_owned();
    let theirs = send(
        &app,
        bearer_delete(&format!("/api/v1/me/sessions/{second_id}"), &stranger),
    )
    .await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

    let others = send(&app, bearer_delete("/api/v1/me/sessions", &first)).await;
    assert_eq!(others.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, bearer_get("/api/v1/me", &third)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, bearer_get("/api/v1/me", &first)).await.status(),
        StatusCode::OK
    );
});

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

async fn app_default_cors() -> Router {
    app(Backend::Sqlite).await
}

/// One HTTP/1.1 exchange over a real TCP connection.
/// Two server instances on two ports, each with its own connection pool
/// and Redis connection, sharing one PostgreSQL database and one Redis
/// namespace: a session started on one is refreshed and ended on the
/// other, and both refuse it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions_and_revocation() {
    let url = common::fresh_db_url(Backend::Postgres).await;
    let prefix = format!("lktest:{}:", uuid::Uuid::new_v4().simple());
    let mut ports = Vec::new();
    for _ in 0..2 {
        let services = latchkey_core::Services::new(
            common::connect(&url).await,
            std::sync::Arc::new(common::redis_store_in(&prefix).await),
            latchkey_core::AuthConfig::for_tests(),
            std::sync::Arc::new(app::letters::Translated),
        );
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
    let (a, b) = (ports[0], ports[1]);
    let name = unique_name();
    let (status, _) = over_tcp(
        a,
        "POST",
        "/api/v1/auth/signup",
        None,
        Some(json!({
            "email": format!("{name}@example.com"), "username": name, "password": PASSWORD
        })),
    )
    .await;
    assert_eq!(status, 201);
    let (status, tokens) = over_tcp(
        a,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({ "login": name, "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 200);
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
}

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
        ("get", "/admin/users"),
        ("get", "/admin/users/{id}"),
        ("patch", "/admin/users/{id}"),
        ("delete", "/admin/users/{id}"),
        ("post", "/admin/users/{id}/password-reset"),
        ("delete", "/admin/users/{id}/sessions"),
        ("delete", "/admin/users/{id}/sessions/{session_id}"),
        ("get", "/admin/events"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
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
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }

    let page = send(&app, page_get("/api/v1/docs", "")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(page).await;
    assert!(html.contains("POST /api/v1/auth/token"), "{html}");
    assert!(html.contains("DELETE /api/v1/me/sessions/{id}"));
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
        for (method, op) in item.as_object().unwrap() {
            // Endpoints without a body (log out, …) have none to get wrong.
            if op["requestBody"].is_null() {
                continue;
            }
            let uri = format!("/api/v1{}", path.replace("{id}", "no-such-id"));
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
    use latchkey_core::{now, AuthConfig, Tokens};
    let app = app(Backend::Sqlite).await;
    let (_, tokens) = api_signup(&app).await;
    let good = tokens["access_token"].as_str().unwrap().to_owned();
    let me = body_json(send(&app, bearer_get("/api/v1/auth/token-info", &good)).await).await;
    let (user, sid) = (
        me["user_id"].as_str().unwrap(),
        me["session_id"].as_str().unwrap(),
    );

    let forge = |change: &dyn Fn(&mut AuthConfig)| {
        let mut config = AuthConfig::for_tests();
        change(&mut config);
        Tokens::new(&config)
            .issue_access(user, sid, app::model::Role::Admin, now())
            .0
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
        (
            "wrong key",
            forge(&|c| c.jwt_secret = b"another-secret-another-secret-12345".to_vec()),
        ),
        (
            "wrong audience",
            forge(&|c| c.audience = "someone-else".into()),
        ),
        (
            "wrong issuer",
            forge(&|c| c.issuer = "https://evil.example".into()),
        ),
        (
            "expired",
            Tokens::new(&AuthConfig::for_tests())
                .issue_access(user, sid, app::model::Role::User, now() - 3600)
                .0,
        ),
    ];
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
    let set: Vec<String> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
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

// Log-in CSRF by reset link: an attacker mails a victim the reset link of
// the attacker's own account. In a browser signed in to another account
// the landing plants no token and the page says to sign out first; a
// signed-out browser gets the link as usual.
on_both_backends!(
    a_reset_link_is_not_planted_in_a_browser_signed_in_elsewhere,
    |backend| {
        let (s, inbox) =
            common::services_with_smtp(backend, latchkey_core::AuthConfig::for_tests()).await;
        let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
        let victim = common::sign_up(&s).await;
        let attacker = common::sign_up(&s).await;
        s.forgot_password(&attacker.email, &common::NO_CLIENT)
            .await
            .unwrap();
        let token = common::smtp::reset_token_in(
            &inbox.wait_for_subject(&attacker.email, "Reset your").await,
        );
        let link = format!("/reset?token={token}");
        let victim_jar = format!(
            "lk_access={}; lk_refresh={}",
            victim.issued.access_token, victim.issued.refresh_token
        );
        let landing = send(&app, page_get(&link, &victim_jar)).await;
        assert_eq!(landing.status(), StatusCode::FOUND);
        assert_eq!(
            landing.headers()[header::LOCATION],
            "/reset?other_account=1"
        );
        assert!(
            !cookie_jar(&landing).contains("lk_reset"),
            "no token planted"
        );
        let page = send(&app, page_get("/reset?other_account=1", &victim_jar)).await;
        let html = body_text(page).await;
        assert!(html.contains("signed in to another account"), "{html}");

        let landing = send(&app, page_get(&link, "")).await;
        assert_eq!(landing.headers()[header::LOCATION], "/reset");
        assert!(cookie_jar(&landing).starts_with("lk_reset="));
    }
);
