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
    let set = set_cookies(&res);
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

/// `next` as the log-in forms post it.
fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

// A page that needs a sign-in sends the visitor to log in and back; every
// way of signing in (password, emailed code, with the authenticator app
// after) lands there, and never on another site.
on_both_backends!(
    a_sign_in_goes_back_to_the_page_that_asked_for_it,
    |backend| {
        let (s, inbox) =
            common::services_with_smtp(backend, latchkey_core::AuthConfig::for_tests()).await;
        let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
        let page = "/sessions?all=1";

        let res = send(&app, page_get(page, "")).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let login = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
        assert_eq!(login, format!("/login?next={}", enc(page)));
        let html = body_text(send(&app, page_get(&login, "")).await).await;
        assert!(
            html.contains(r#"name="next" value="/sessions?all=1""#),
            "the password form carries it: {html}"
        );
        assert!(
            html.contains(&format!(r#"href="/login/code?next={}""#, enc(page))),
            "so does the way to a code"
        );
        assert!(
            html.contains("Log in to go on to the page you opened."),
            "the page says why it came"
        );
        for plain in [
            "/login",
            "/login?next=%2F%2Fevil.example",
            "/login?next=%2Fprofile",
        ] {
            let html = body_text(send(&app, page_get(plain, "")).await).await;
            assert!(!html.contains("login-for-page"), "not on {plain}");
        }
        // An app's authorization or a link waiting for this sign-in goes
        // first (the sign-in lands on the profile): the page says nothing
        // of the page opened.
        for waiting in ["lk_authorize=sealed", "lk_link=sealed"] {
            let html = body_text(send(&app, page_get(&login, waiting)).await).await;
            assert!(!html.contains("login-for-page"), "not with {waiting}");
        }

        // The password. (The address is proven, so a later code is not its
        // first proof, which would clear the password and the app.)
        let user = common::sign_up(&s).await;
        sqlx::query("UPDATE users SET email_verified = 1 WHERE email = $1")
            .bind(&user.email)
            .execute(&s.db.pool)
            .await
            .unwrap();
        let password = |next: &str| {
            format!(
                "login={}&password={}&next={}",
                user.name,
                enc(common::PASSWORD),
                enc(next)
            )
        };
        let res = send(&app, form_post("/fn/login", &password(page), None)).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(res.headers()[header::LOCATION], page);
        let jar = cookie_jar(&res);
        assert_eq!(
            send(&app, page_get(page, &jar)).await.status(),
            StatusCode::OK
        );
        // Signed in already, the log-in page sends the browser on too.
        let res = send(&app, page_get(&login, &jar)).await;
        assert_eq!(res.headers()[header::LOCATION], page);

        // An app's authorization or a provider's link waiting for this
        // sign-in goes first: they go on from the profile.
        for waiting in ["lk_authorize=sealed", "lk_link=token"] {
            let res = send(&app, form_post("/fn/login", &password(page), Some(waiting))).await;
            assert_eq!(res.headers()[header::LOCATION], "/profile", "{waiting}");
        }

        // Never elsewhere: anything but a path here lands on the profile.
        for elsewhere in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/%2F/evil.example",
            "/\t/evil.example",
            "evil.example",
        ] {
            let res = send(&app, form_post("/fn/login", &password(elsewhere), None)).await;
            assert_eq!(res.status(), StatusCode::FOUND, "{elsewhere:?}");
            assert_eq!(res.headers()[header::LOCATION], "/profile", "{elsewhere:?}");
        }

        // With an authenticator app: the second step carries it on.
        let access = user.issued.access_token.clone();
        let setup = send(
            &app,
            bearer_post(
                "/api/v1/me/second-factors/authenticator",
                &access,
                json!({ "password": common::PASSWORD }),
            ),
        )
        .await;
        let secret = body_json(setup).await["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let confirmed = send(
            &app,
            bearer_post(
                "/api/v1/me/second-factors/authenticator/confirm",
                &access,
                json!({ "code": common::authenticator_code(&secret, "now") }),
            ),
        )
        .await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let recovery = body_json(confirmed).await["recovery_codes"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let res = send(&app, form_post("/fn/login", &password(page), None)).await;
        let second = format!("/login/second-factor?next={}", enc(page));
        assert_eq!(res.headers()[header::LOCATION], second.as_str());
        let challenge = cookie_jar(&res);
        let html = body_text(send(&app, page_get(&second, &challenge)).await).await;
        assert!(
            html.contains(r#"name="next" value="/sessions?all=1""#),
            "{html}"
        );
        // A browser still signed in from before (an app asked for a fresh
        // sign-in) keeps the second step while its challenge waits; with
        // none waiting, a signed-in visit goes on.
        let signed_in = format!("lk_access={access}");
        let res = send(
            &app,
            page_get(&second, &format!("{signed_in}; {challenge}")),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = send(&app, page_get(&second, &signed_in)).await;
        assert_eq!(res.headers()[header::LOCATION], page);
        // The code the app shows next: the one just used for the set-up is spent.
        let code = common::authenticator_code(&secret, "now + 30 seconds");
        let res = send(
            &app,
            form_post(
                "/fn/second_factor",
                &format!("code={code}&next={}", enc(page)),
                Some(&challenge),
            ),
        )
        .await;
        assert_eq!(res.headers()[header::LOCATION], page);

        // An emailed code, with a recovery code for the second step.
        let res = send(
            &app,
            form_post(
                "/fn/request_signin_code",
                &format!("email={}&next={}", enc(&user.email), enc("/security")),
                None,
            ),
        )
        .await;
        assert_eq!(
            res.headers()[header::LOCATION],
            format!("/login/code?email={}&next=%2Fsecurity", enc(&user.email)).as_str()
        );
        let code =
            common::smtp::code_in(&inbox.wait_for_subject(&user.email, "sign-in code").await);
        let res = send(
            &app,
            form_post(
                "/fn/signin_with_code",
                &format!("email={}&code={code}&next=%2Fsecurity", enc(&user.email)),
                None,
            ),
        )
        .await;
        // The account has an app now: its second step, then on.
        let second = "/login/second-factor?next=%2Fsecurity";
        assert_eq!(res.headers()[header::LOCATION], second);
        let res = send(
            &app,
            form_post(
                "/fn/second_factor",
                &format!("code={recovery}&next=%2Fsecurity"),
                Some(&cookie_jar(&res)),
            ),
        )
        .await;
        assert_eq!(res.headers()[header::LOCATION], "/security");
    }
);

// An app asked for a fresh sign-in (`prompt=login`: `/login?again`, its
// authorization parked): a browser signed in from before stays on the
// sign-in pages, by password or by emailed code, even after a refused try,
// instead of being sent on as signed in.
on_both_backends!(
    a_fresh_sign_in_keeps_a_signed_in_browser_on_its_pages,
    |backend| {
        let app = app(backend).await;
        let (name, tokens) = api_signup(&app).await;
        let signed_in = format!("lk_access={}", tokens["access_token"].as_str().unwrap());
        // What the page reads of the parked request: that there is one.
        let asked = format!("{signed_in}; lk_authorize=sealed");
        for page in ["/login?again", "/login?again&__path=%2Ffn%2Flogin&__err=x"] {
            let res = send(&app, page_get(page, &asked)).await;
            assert_eq!(res.status(), StatusCode::OK, "{page}");
            let html = body_text(res).await;
            assert!(html.contains(r#"href="/login/code?again""#), "{html}");
        }
        let res = send(&app, page_get("/login/code?again", &asked)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let html = body_text(res).await;
        assert!(html.contains(r#"name="again" value="1""#), "{html}");
        assert!(html.contains(r#"href="/login?again""#), "{html}");

        let email = format!("{name}@example.com");
        let form = format!("email={}&again=1", enc(&email));
        let res = send(
            &app,
            form_post("/fn/request_signin_code", &form, Some(&asked)),
        )
        .await;
        let confirm = format!("/login/code?email={}&again", enc(&email));
        assert_eq!(res.headers()[header::LOCATION], confirm.as_str());
        for page in [confirm.clone(), format!("{confirm}&__err=x")] {
            let res = send(&app, page_get(&page, &asked)).await;
            assert_eq!(res.status(), StatusCode::OK, "{page}");
        }

        // The second step (the account has an app) leads back to them, and
        // only while the authorization waits.
        for (cookies, back) in [
            (format!("{asked}; lk_2fa=sealed"), r#"href="/login?again""#),
            (format!("{signed_in}; lk_2fa=sealed"), r#"href="/login""#),
        ] {
            let res = send(&app, page_get("/login/second-factor", &cookies)).await;
            assert_eq!(res.status(), StatusCode::OK, "{cookies}");
            let html = body_text(res).await;
            assert!(html.contains(back), "{cookies}: {html}");
        }

        // Without `again`, or with nothing parked (a bare link asks nothing), a
        // signed-in browser goes on.
        for (page, cookies, to) in [
            ("/login", &signed_in, "/profile"),
            ("/login/code", &signed_in, "/profile"),
            ("/login?again&next=%2Fsecurity", &signed_in, "/security"),
            ("/login/code?again", &signed_in, "/profile"),
            ("/login", &asked, "/profile"),
        ] {
            let res = send(&app, page_get(page, cookies)).await;
            assert_eq!(res.headers()[header::LOCATION], to, "{page} {cookies}");
        }
    }
);

// A browser that signs in again (an app asked for a fresh sign-in, or
// someone else takes the keyboard) gets new cookies, and the session it
// held ends: nothing could reach it any more but a copy of its cookies.
on_both_backends!(
    signing_in_again_ends_the_session_the_browser_held,
    |backend| {
        let app = app(backend).await;
        let (name, tokens) = api_signup(&app).await;
        let access = tokens["access_token"].as_str().unwrap();
        let me = |token: &str| {
            Request::get("/api/v1/me")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(send(&app, me(access)).await.status(), StatusCode::OK);
        // A refused try ends nothing.
        let wrong = format!("login={name}&password=not-the-password");
        let res = send(
            &app,
            form_post("/fn/login", &wrong, Some(&format!("lk_access={access}"))),
        )
        .await;
        assert!(!cookie_jar(&res).contains("lk_access="));
        assert_eq!(send(&app, me(access)).await.status(), StatusCode::OK);
        let form = format!("login={name}&password={}", enc(common::PASSWORD));
        let res = send(
            &app,
            form_post(
                "/fn/login",
                &form,
                Some(&format!("lk_access={access}; lk_authorize=sealed")),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let jar = cookie_jar(&res);
        let fresh = jar
            .split("; ")
            .find_map(|c| c.strip_prefix("lk_access="))
            .expect("new cookies");
        assert_ne!(fresh, access);
        assert_eq!(send(&app, me(fresh)).await.status(), StatusCode::OK);
        assert_eq!(
            send(&app, me(access)).await.status(),
            StatusCode::UNAUTHORIZED,
            "the earlier session ended"
        );
        // Logged as replaced, not as a log-out: the person is still in.
        let activity = Request::get("/api/v1/me/activity")
            .header(header::AUTHORIZATION, format!("Bearer {fresh}"))
            .body(Body::empty())
            .unwrap();
        let events = body_json(send(&app, activity).await).await["events"].clone();
        let kinds: Vec<(&str, &str)> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap(),
                    e["reason"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert!(
            kinds.contains(&("session_revoked", "replaced")),
            "{kinds:?}"
        );
        assert!(
            !kinds.iter().any(|(kind, _)| *kind == "logout"),
            "{kinds:?}"
        );
    }
);

on_both_backends!(
    a_refused_form_shows_again_what_was_typed_without_javascript,
    |backend| {
        let app = app(backend).await;
        let name = unique_name();
        // Too short a password: the sign-up is refused.
        let form = format!("email={name}%40example.com&username={name}&password=shortpw");
        let res = send(&app, form_post("/fn/signup", &form, None)).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let back = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
        assert!(
            back.contains("__path=%2Ffn%2Fsignup") || back.contains("__path=/fn/signup"),
            "{back}"
        );
        let set = set_cookies(&res);
        let kept = set
            .iter()
            .find(|c| c.starts_with("lk_kept="))
            .unwrap_or_else(|| panic!("the typed values ride to the form's page: {set:?}"));
        assert!(
            kept.contains("HttpOnly") && kept.contains("Max-Age=60"),
            "{kept}"
        );
        // Sealed: a header log reads neither the address nor anything else.
        assert!(!kept.contains(&name) && !kept.contains("shortpw"), "{kept}");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let jar = cookie_jar(&res);

        let page = send(&app, page_get(&back, &jar)).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
        let cleared = set_cookies(&page);
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with("lk_kept=;") && c.contains("Max-Age=0")),
            "the page that used them clears them: {cleared:?}"
        );
        let html = body_text(page).await;
        assert!(
            html.contains(&format!("value=\"{name}@example.com\"")),
            "the address is back"
        );
        assert!(
            html.contains(&format!("value=\"{name}\"")),
            "the username is back"
        );
        assert!(!html.contains("shortpw"), "never the password");

        // Another form's page, or the same page without a refusal in its
        // address, takes nothing from the cookie.
        let elsewhere = back
            .replace("%2Ffn%2Fsignup", "%2Ffn%2Flogin")
            .replace("/fn/signup", "/fn/login");
        for uri in [elsewhere.as_str(), "/signup"] {
            let html = body_text(send(&app, page_get(uri, &jar)).await).await;
            assert!(!html.contains(&format!("value=\"{name}")), "{uri}");
        }

        // Too much to carry in a cookie: the refusal still comes back, the
        // fields empty.
        let long = "a".repeat(2600);
        let form = format!("email={long}%40example.com&username={name}&password=shortpw");
        let res = send(&app, form_post("/fn/signup", &form, None)).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(!cookie_jar(&res).contains("lk_kept="));
    }
);
