//! Over the JSON API: accounts, codes, passwords, email changes, quiet sign-up, the OAuth2 password grant and sessions.

use super::*;

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

        // A password built on the account's name: fine for a stranger, but a
        // signed-in caller naming no identity is measured against their own
        // (as the change would be), like the browser's meter.
        let personal = json!({ "password": format!("quietly {name} sings") });
        let stranger = body_json(
            send(
                &app,
                json_post("/api/v1/password/strength", personal.clone()),
            )
            .await,
        )
        .await;
        assert_eq!(stranger["acceptable"], true, "{stranger}");
        let owner = body_json(
            send(
                &app,
                bearer_post("/api/v1/password/strength", &access, personal),
            )
            .await,
        )
        .await;
        assert_eq!(owner["acceptable"], false, "{owner}");
        assert_eq!(owner["refused"]["reason"], "password_personal", "{owner}");

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

/// The code the app shows for `secret` at `when` (oathtool).
fn oathtool(secret: &str, when: &str) -> String {
    common::authenticator_code(secret, when)
}

on_both_backends!(api_second_factor_round_trip, |backend| {
    let app = app(backend).await;
    let (name, tokens) = api_signup(&app).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let post = |uri: &str, body: Value| bearer_post(uri, &access, body);

    let setup = send(
        &app,
        post(
            "/api/v1/me/second-factors/authenticator",
            json!({ "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(setup.status(), StatusCode::CREATED);
    let setup = body_json(setup).await;
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert!(setup["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let confirmed = send(
        &app,
        post(
            "/api/v1/me/second-factors/authenticator/confirm",
            json!({ "code": oathtool(&secret, "now") }),
        ),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes = body_json(confirmed).await["recovery_codes"].clone();
    assert_eq!(codes.as_array().unwrap().len(), 10);
    let status =
        body_json(send(&app, bearer_get("/api/v1/me/second-factors", &access)).await).await;
    assert_eq!(status["recovery_codes_left"], 10);

    // The password alone: 403 mfa_required with the second step's token.
    let login = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({ "login": name, "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    let body = body_json(login).await;
    assert_error(&body, "mfa_required");
    assert_eq!(body["error"]["factors"], json!(["totp", "recovery_code"]));
    let ticket = body["error"]["mfa_token"].as_str().unwrap().to_owned();
    assert!(body.get("access_token").is_none());

    let wrong = send(
        &app,
        json_post(
            "/api/v1/auth/login/second-factor",
            json!({ "mfa_token": ticket, "code": "000000" }),
        ),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body_json(wrong).await, "code_wrong");
    let done = send(
        &app,
        json_post(
            "/api/v1/auth/login/second-factor",
            json!({ "mfa_token": ticket, "code": oathtool(&secret, "now + 30 seconds") }),
        ),
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(done.headers()[header::CACHE_CONTROL], "no-store");
    let done = body_json(done).await;
    assert_eq!(done["user"]["username"], name.as_str());

    // The OAuth2 password grant answers as Auth0 does.
    let grant = send(
        &app,
        form_api_post(
            "/api/v1/auth/token",
            &format!(
                "grant_type=password&username={name}&password={}",
                PASSWORD.replace(' ', "+")
            ),
        ),
    )
    .await;
    assert_eq!(grant.status(), StatusCode::FORBIDDEN);
    let grant = body_json(grant).await;
    assert_eq!(grant["error"], "mfa_required");
    let ticket = grant["mfa_token"].as_str().unwrap().to_owned();
    let by_recovery = send(
        &app,
        json_post(
            "/api/v1/auth/login/second-factor",
            json!({ "mfa_token": ticket, "code": codes[0] }),
        ),
    )
    .await;
    assert_eq!(by_recovery.status(), StatusCode::OK);

    // Removing needs the password and a factor.
    let removed = send(
        &app,
        post(
            "/api/v1/me/second-factors/authenticator/remove",
            json!({ "password": PASSWORD, "code": codes[1] }),
        ),
    )
    .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let login = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({ "login": name, "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
});

on_both_backends!(api_step_up_before_a_password_change, |backend| {
    let app = app(backend).await;
    let (name, tokens) = api_signup(&app).await;
    let first = tokens["access_token"].as_str().unwrap().to_owned();
    // A second session, then the app set up from the first.
    let second = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({ "login": name, "password": PASSWORD }),
        ),
    )
    .await;
    let second = body_json(second).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let setup = body_json(
        send(
            &app,
            bearer_post(
                "/api/v1/me/second-factors/authenticator",
                &first,
                json!({ "password": PASSWORD }),
            ),
        )
        .await,
    )
    .await;
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let confirmed = send(
        &app,
        bearer_post(
            "/api/v1/me/second-factors/authenticator/confirm",
            &first,
            json!({ "code": oathtool(&secret, "now") }),
        ),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);

    let change = json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" });
    let refused = send(
        &app,
        bearer_post("/api/v1/me/password", &second, change.clone()),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body = body_json(refused).await;
    assert_error(&body, "reauth_required");
    assert_eq!(body["error"]["reason"], "step_up_required");

    let step_up = |code: String| {
        bearer_post(
            "/api/v1/me/second-factors/step-up",
            &second,
            json!({ "code": code }),
        )
    };
    let wrong = send(&app, step_up("000000".into())).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = send(&app, step_up(oathtool(&secret, "now + 30 seconds"))).await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let changed = send(&app, bearer_post("/api/v1/me/password", &second, change)).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
});

on_both_backends!(api_passkey_round_trip, |backend| {
    use common::authenticator::SoftPasskey;
    // Passkeys need a domain: this deployment is on localhost.
    const SITE: &str = "http://localhost:3000";
    let config = latchkey_core::AuthConfig {
        public_url: SITE.into(),
        ..latchkey_core::AuthConfig::for_tests()
    };
    let services = common::services_with(backend, config).await;
    let app = server::router::build(services, leptos_options(), SITE);
    let (name, tokens) = api_signup(&app).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let started = send(
        &app,
        bearer_post(
            "/api/v1/me/passkeys/options",
            &access,
            json!({ "name": "Phone", "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let options = body_json(started).await["options"].to_string();
    let (mut passkey, answer) = SoftPasskey::create(&options, SITE);
    let credential: Value = serde_json::from_str(&answer).unwrap();
    let added = send(
        &app,
        bearer_post(
            "/api/v1/me/passkeys",
            &access,
            json!({ "credential": credential }),
        ),
    )
    .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    assert_eq!(body_json(added).await["name"], "Phone");
    let listed = body_json(send(&app, bearer_get("/api/v1/me/passkeys", &access)).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Signing in names no one: the passkey says whose it is.
    let ceremony =
        body_json(send(&app, json_post("/api/v1/auth/passkey/options", json!({}))).await).await;
    let answer: Value =
        serde_json::from_str(&passkey.get(&ceremony["options"].to_string())).unwrap();
    let body = json!({ "ceremony": ceremony["ceremony"], "credential": answer });
    let signed_in = send(&app, json_post("/api/v1/auth/passkey", body.clone())).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let signed_in = body_json(signed_in).await;
    assert_eq!(signed_in["user"]["username"], name.as_str());
    assert!(signed_in["access_token"].is_string());
    // The ceremony was spent.
    let again = send(&app, json_post("/api/v1/auth/passkey", body)).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let again = body_json(again).await;
    assert_eq!(again["error"]["reason"], "passkey_expired");
    // Not a credential: a clear 400, nothing spent.
    let ceremony =
        body_json(send(&app, json_post("/api/v1/auth/passkey/options", json!({}))).await).await;
    let garbage = send(
        &app,
        json_post(
            "/api/v1/auth/passkey",
            json!({ "ceremony": ceremony["ceremony"], "credential": { "id": 7 } }),
        ),
    )
    .await;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(garbage).await["error"]["reason"],
        "passkey_refused"
    );

    // On an IP address, passkeys are off and say so.
    let plain = app_default_cors().await;
    let off = send(&plain, json_post("/api/v1/auth/passkey/options", json!({}))).await;
    assert_eq!(off.status(), StatusCode::CONFLICT);
    assert_eq!(body_json(off).await["error"]["reason"], "passkeys_off");
});
