//! In a browser without JavaScript: plain form posts to the server functions, page loads that refresh a session, cross-site posts, reset links.

use super::*;

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
        s.passwords()
            .forgot_password(&attacker.email, &common::NO_CLIENT)
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
