//! The OpenID Connect provider's rules, through `Services`: registering
//! apps, the authorization request, codes with PKCE, the token endpoint's
//! grants, ID tokens against the JWKS, userinfo.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use latchkey_core::model::AppSpec;
use latchkey_core::oidc::{AppCredentials, AuthorizeParams, Refusal, Step, TokenParams};
use latchkey_core::{Auth, ErrorCode, Services};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

const REDIRECT: &str = "https://app.example.com/callback";
const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn spec(confidential: bool) -> AppSpec {
    AppSpec {
        name: "Notes".into(),
        logo_url: None,
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1:8765/cb".into()],
        post_logout_redirect_uris: vec![],
        confidential,
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
        grant_types: ["authorization_code", "refresh_token"]
            .map(String::from)
            .to_vec(),
        first_party: false,
        id_token_alg: None,
        jwks: None,
    }
}

/// `app` marked first-party by an admin: its users are not asked.
fn first_party(app: AppSpec) -> AppSpec {
    AppSpec {
        first_party: true,
        ..app
    }
}

struct Setup {
    s: Services,
    user: Auth,
    client_id: String,
    secret: Option<String>,
}

async fn setup(backend: common::Backend, spec: AppSpec) -> Setup {
    let s = common::services(backend).await;
    let admin = common::make_admin(&s).await;
    let admin = common::auth_of(&s, &admin).await;
    let (app, secret) = s.apps().register(&admin, &spec).await.unwrap();
    let account = common::sign_up(&s).await;
    let user = common::auth_of(&s, &account).await;
    Setup {
        s,
        user,
        client_id: app.client_id,
        secret,
    }
}

fn params(client_id: &str, scope: &str) -> AuthorizeParams {
    AuthorizeParams {
        client_id: Some(client_id.into()),
        redirect_uri: Some(REDIRECT.into()),
        response_type: Some("code".into()),
        scope: Some(scope.into()),
        state: Some("st4te".into()),
        nonce: Some("n0nce".into()),
        code_challenge: Some(challenge(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..Default::default()
    }
}

/// The query of a redirect to the app, as a map.
fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(url).unwrap();
    assert!(url.as_str().starts_with(REDIRECT), "{url}");
    url.query_pairs().into_owned().collect()
}

async fn allowed_code(t: &Setup, scope: &str) -> String {
    let a =
        t.s.oidc()
            .authorization(&params(&t.client_id, scope))
            .await
            .unwrap();
    // Asked once; then remembered.
    let to = match t.s.oidc().step(Some(&t.user), &a).await.unwrap() {
        Step::Consent => t.s.oidc().decide(&t.user, &a, true).await.unwrap(),
        Step::Redirect(to) => to,
        step => panic!("{step:?}"),
    };
    let q = query_of(&to);
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["iss"], t.s.config.issuer);
    q["code"].clone()
}

fn creds(t: &Setup) -> AppCredentials {
    AppCredentials {
        client_id: Some(t.client_id.clone()),
        client_secret: t.secret.clone(),
        basic: false,
        assertion: None,
    }
}

fn code_params(code: &str, verifier: Option<&str>) -> TokenParams {
    TokenParams {
        grant_type: Some("authorization_code".into()),
        code: Some(code.into()),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: verifier.map(str::to_owned),
        ..Default::default()
    }
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

on_both_backends!(
    a_public_app_signs_a_user_in_with_pkce_and_reads_userinfo,
    |backend| {
        let t = setup(backend, spec(false)).await;
        assert_eq!(t.secret, None, "a public app has no secret");
        let code = allowed_code(&t, "openid email profile").await;
        let client = common::client();
        let tokens =
            t.s.oidc()
                .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
                .await
                .unwrap();
        assert_eq!(tokens.token_type, "Bearer");
        assert_eq!(tokens.scope, "email openid profile");
        assert!(tokens.refresh_token.is_none(), "no offline_access asked");

        // The ID token verifies against the published keys alone.
        let id_token = tokens.id_token.unwrap();
        let header = jsonwebtoken::decode_header(&id_token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        let jwks = serde_json::to_value(t.s.keys.jwks().await.unwrap()).unwrap();
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
        let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_audience(&[&t.client_id]);
        validation.set_issuer(&[&t.s.config.issuer]);
        let claims = jsonwebtoken::decode::<Value>(
            &id_token,
            &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], t.user.user.id.as_str());
        assert_eq!(claims["nonce"], "n0nce");
        assert_eq!(claims["email"], t.user.user.email.as_str());
        assert_eq!(claims["preferred_username"], t.user.user.username.as_str());
        assert_eq!(claims["sid"], t.user.session_id.as_str());
        assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
        // Signed up with a password: one factor (RFC 8176 `pwd`).
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
        assert_eq!(claims["acr"], "1");

        let info = t.s.oidc().userinfo(&tokens.access_token).await.unwrap();
        assert_eq!(info["sub"], t.user.user.id.as_str());
        assert_eq!(info["email"], t.user.user.email.as_str());
        assert_eq!(info["email_verified"], false);
        // The app's token is not a first-party one, nor the other way round.
        assert_eq!(
            t.s.access_tokens
                .verify(&tokens.access_token)
                .await
                .unwrap(),
            None
        );
        let err =
            t.s.oidc()
                .userinfo(&t.user_access(&t.s).await)
                .await
                .unwrap_err();
        assert_eq!(err.error, "invalid_token");

        // A public app cannot prove who it is: its users are asked again.
        let a =
            t.s.oidc()
                .authorization(&params(&t.client_id, "openid email"))
                .await
                .unwrap();
        assert_eq!(
            t.s.oidc().step(Some(&t.user), &a).await.unwrap(),
            Step::Consent
        );
    }
);

on_both_backends!(
    a_confidential_apps_consent_is_remembered_per_scope_set,
    |backend| {
        let t = setup(backend, spec(true)).await;
        allowed_code(&t, "openid email").await;
        let step = |scope: &'static str| {
            let t = &t;
            async move {
                let a =
                    t.s.oidc()
                        .authorization(&params(&t.client_id, scope))
                        .await
                        .unwrap();
                t.s.oidc().step(Some(&t.user), &a).await.unwrap()
            }
        };
        assert!(
            matches!(step("openid").await, Step::Redirect(_)),
            "fewer: remembered"
        );
        assert!(matches!(step("email openid").await, Step::Redirect(_)));
        assert_eq!(
            step("openid offline_access").await,
            Step::Consent,
            "more: asked"
        );
        // An admin marks it first-party: never asked.
        let admin = common::auth_of(&t.s, &common::make_admin(&t.s).await).await;
        let mut first_party = spec(true);
        first_party.first_party = true;
        t.s.apps()
            .update(&admin, &t.client_id, &first_party)
            .await
            .unwrap();
        assert!(matches!(
            step("openid offline_access").await,
            Step::Redirect(_)
        ));
    }
);

impl Setup {
    /// A first-party access token of the signed-in user.
    async fn user_access(&self, s: &Services) -> String {
        s.access_tokens
            .issue(
                &self.user.user.id,
                &self.user.session_id,
                self.user.user.role,
                latchkey_core::now(),
            )
            .await
            .unwrap()
            .0
    }
}

on_both_backends!(
    codes_are_refused_for_the_wrong_verifier_redirect_or_app_and_spent_by_a_try,
    |backend| {
        let t = setup(backend, spec(false)).await;
        let client = common::client();
        let oidc = t.s.oidc();
        for (what, verifier, redirect) in [
            (
                "a wrong verifier",
                Some("another-verifier-another-verifier-another-verifier"),
                REDIRECT,
            ),
            ("no verifier", None, REDIRECT),
            (
                "another registered redirect URI",
                Some(VERIFIER),
                "http://127.0.0.1:8765/cb",
            ),
        ] {
            let code = allowed_code(&t, "openid").await;
            let mut p = code_params(&code, verifier);
            p.redirect_uri = Some(redirect.into());
            let err = oidc.token(&creds(&t), &p, &client).await.unwrap_err();
            assert_eq!((err.error, err.status), ("invalid_grant", 400), "{what}");
            // The try spent the code: the right verifier comes too late.
            let err = oidc
                .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
                .await
                .unwrap_err();
            assert_eq!(err.error, "invalid_grant", "{what}, then right");
        }
        // Another app cannot redeem this one's code.
        let code = allowed_code(&t, "openid").await;
        let mut other = spec(false);
        other.name = "Other".into();
        let admin = common::auth_of(&t.s, &common::make_admin(&t.s).await).await;
        let (other, _) = t.s.apps().register(&admin, &other).await.unwrap();
        let stranger = AppCredentials {
            client_id: Some(other.client_id),
            ..Default::default()
        };
        let err = oidc
            .token(&stranger, &code_params(&code, Some(VERIFIER)), &client)
            .await
            .unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert!(oidc
            .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
            .await
            .is_ok());
    }
);

on_both_backends!(a_reused_code_revokes_what_the_first_use_got, |backend| {
    let t = setup(backend, spec(false)).await;
    let client = common::client();
    let code = allowed_code(&t, "openid offline_access").await;
    let p = code_params(&code, Some(VERIFIER));
    // Racing redemptions: exactly one wins.
    let oidc = t.s.oidc();
    let c = creds(&t);
    let (a, b) = tokio::join!(oidc.token(&c, &p, &client), oidc.token(&c, &p, &client));
    let tokens = match (a, b) {
        (Ok(tokens), Err(err)) | (Err(err), Ok(tokens)) => {
            assert_eq!(err.error, "invalid_grant");
            tokens
        }
        (a, b) => panic!("one of two must win: {:?} / {:?}", a.is_ok(), b.is_ok()),
    };
    // The loser's try was a reuse: the winner's grant is gone.
    let err = oidc.userinfo(&tokens.access_token).await.unwrap_err();
    assert_eq!(err.error, "invalid_token");
    let refresh = TokenParams {
        grant_type: Some("refresh_token".into()),
        refresh_token: tokens.refresh_token.clone(),
        ..Default::default()
    };
    assert_eq!(
        oidc.token(&c, &refresh, &client).await.unwrap_err().error,
        "invalid_grant"
    );
});

on_both_backends!(
    refresh_rotates_never_widens_and_reuse_ends_the_grant,
    |backend| {
        let mut config = latchkey_core::AuthConfig::for_tests();
        config.refresh_grace = std::time::Duration::ZERO;
        let s = common::services_with(backend, config).await;
        let admin = common::auth_of(&s, &common::make_admin(&s).await).await;
        let (app, secret) = s.apps().register(&admin, &spec(true)).await.unwrap();
        let user = common::auth_of(&s, &common::sign_up(&s).await).await;
        let t = Setup {
            s,
            user,
            client_id: app.client_id,
            secret,
        };
        let client = common::client();
        let oidc = t.s.oidc();
        let code = allowed_code(&t, "openid email offline_access").await;
        // A confidential app: its secret is required, PKCE optional but checked.
        let wrong = AppCredentials {
            client_id: Some(t.client_id.clone()),
            client_secret: Some("not-the-secret".into()),
            basic: true,
            assertion: None,
        };
        let err = oidc
            .token(&wrong, &code_params(&code, Some(VERIFIER)), &client)
            .await
            .unwrap_err();
        assert_eq!((err.error, err.status), ("invalid_client", 401));
        let tokens = oidc
            .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
            .await
            .unwrap();
        let first = tokens.refresh_token.unwrap();
        let refresh = |token: &str, scope: Option<&str>| TokenParams {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some(token.into()),
            scope: scope.map(str::to_owned),
            ..Default::default()
        };
        let narrower = oidc
            .token(&creds(&t), &refresh(&first, Some("openid")), &client)
            .await
            .unwrap();
        assert_eq!(narrower.scope, "openid");
        assert_eq!(claims_of(&narrower.access_token)["scope"], "openid");
        let second = narrower.refresh_token.unwrap();
        assert_ne!(second, first);
        // Never wider than the grant (this spends `second`: the scope is
        // checked after the token is taken, so a replay always meets the
        // reuse check).
        let wider = oidc
            .token(
                &creds(&t),
                &refresh(&second, Some("openid email profile")),
                &client,
            )
            .await;
        assert_eq!(wider.unwrap_err().error, "invalid_scope");
        // The first token again, after the grace: theft. The grant ends.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let err = oidc
            .token(&creds(&t), &refresh(&first, None), &client)
            .await
            .unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        let err = oidc
            .token(&creds(&t), &refresh(&second, None), &client)
            .await
            .unwrap_err();
        assert_eq!(
            err.error, "invalid_grant",
            "the successor died with the grant"
        );
    }
);

on_both_backends!(
    authorization_requests_refuse_on_the_page_or_at_the_app,
    |backend| {
        let t = setup(backend, spec(false)).await;
        let oidc = t.s.oidc();
        let with = |change: &dyn Fn(&mut AuthorizeParams)| {
            let mut p = params(&t.client_id, "openid");
            change(&mut p);
            p
        };
        // Unknown app or unregistered redirect URI: never sent anywhere.
        for p in [
            with(&|p| p.client_id = Some("nobody".into())),
            with(&|p| p.client_id = None),
        ] {
            assert!(matches!(
                oidc.authorization(&p).await,
                Err(Refusal::UnknownApp)
            ));
        }
        for uri in [
            "https://app.example.com/callback/",
            "https://app.example.com/callback?x=1",
            "https://evil.example/callback",
            "HTTPS://app.example.com/callback",
        ] {
            let p = with(&|p| p.redirect_uri = Some(uri.into()));
            assert!(
                matches!(oidc.authorization(&p).await, Err(Refusal::BadRedirectUri)),
                "{uri}"
            );
        }
        // The rest goes back to the app, with its state.
        for (p, error) in [
            (
                with(&|p| p.response_type = Some("token".into())),
                "unsupported_response_type",
            ),
            (
                with(&|p| p.scope = Some("openid admin".into())),
                "invalid_scope",
            ),
            (with(&|p| p.code_challenge = None), "invalid_request"),
            (
                with(&|p| p.code_challenge_method = Some("plain".into())),
                "invalid_request",
            ),
            (
                with(&|p| p.code_challenge = Some("short".into())),
                "invalid_request",
            ),
            (
                with(&|p| p.prompt = Some("select_account".into())),
                "invalid_request",
            ),
        ] {
            let Err(Refusal::Redirect(to)) = oidc.authorization(&p).await else {
                panic!("{error}: not a redirect");
            };
            let q = query_of(&to);
            assert_eq!((q["error"].as_str(), q["state"].as_str()), (error, "st4te"));
        }
        // prompt=none: never a screen.
        let a = oidc
            .authorization(&with(&|p| p.prompt = Some("none".into())))
            .await
            .unwrap();
        let Step::Redirect(to) = oidc.step(None, &a).await.unwrap() else {
            panic!()
        };
        assert_eq!(query_of(&to)["error"], "login_required");
        let Step::Redirect(to) = oidc.step(Some(&t.user), &a).await.unwrap() else {
            panic!()
        };
        assert_eq!(query_of(&to)["error"], "consent_required");
        // prompt=login and max_age ask a signed-in user to sign in again
        // (the session here began a second ago).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        for p in [
            with(&|p| p.prompt = Some("login".into())),
            with(&|p| p.max_age = Some("0".into())),
        ] {
            let a = oidc.authorization(&p).await.unwrap();
            assert_eq!(
                oidc.step(Some(&t.user), &a).await.unwrap(),
                Step::SignIn { again: true }
            );
            assert_eq!(
                oidc.step(None, &a).await.unwrap(),
                Step::SignIn { again: false }
            );
        }
        let a = oidc
            .authorization(&with(&|p| p.max_age = Some("3600".into())))
            .await
            .unwrap();
        assert_eq!(oidc.step(Some(&t.user), &a).await.unwrap(), Step::Consent);
        // Denied: back with access_denied.
        let a = oidc
            .authorization(&params(&t.client_id, "openid"))
            .await
            .unwrap();
        let to = oidc.decide(&t.user, &a, false).await.unwrap();
        assert_eq!(query_of(&to)["error"], "access_denied");
        // A parked request opens only as itself.
        let sealed = oidc.park(&a);
        assert_eq!(oidc.unpark(&sealed), Some(a.clone()));
        assert_eq!(oidc.unpark(&sealed[1..]), None);
    }
);

on_both_backends!(registering_apps_checks_uris_scopes_and_grants, |backend| {
    let s = common::services(backend).await;
    let admin = common::auth_of(&s, &common::make_admin(&s).await).await;
    let user = common::auth_of(&s, &common::sign_up(&s).await).await;
    assert_eq!(
        s.apps()
            .register(&user, &spec(true))
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    let bad = |change: &dyn Fn(&mut AppSpec)| {
        let mut spec = spec(false);
        change(&mut spec);
        spec
    };
    for (what, spec, field) in [
        (
            "http off loopback",
            bad(&|s| s.redirect_uris = vec!["http://app.example.com/cb".into()]),
            "redirect_uris",
        ),
        (
            "a wildcard",
            bad(&|s| s.redirect_uris = vec!["https://*.example.com/cb".into()]),
            "redirect_uris",
        ),
        (
            "a fragment",
            bad(&|s| s.redirect_uris = vec!["https://app.example.com/cb#x".into()]),
            "redirect_uris",
        ),
        (
            "relative",
            bad(&|s| s.redirect_uris = vec!["/cb".into()]),
            "redirect_uris",
        ),
        (
            "no redirect",
            bad(&|s| s.redirect_uris = vec![]),
            "redirect_uris",
        ),
        (
            "unknown scope",
            bad(&|s| s.scopes = vec!["admin".into()]),
            "scopes",
        ),
        (
            "password grant",
            bad(&|s| s.grant_types = vec!["password".into()]),
            "grant_types",
        ),
        (
            "public client_credentials",
            bad(&|s| s.grant_types = vec!["client_credentials".into()]),
            "grant_types",
        ),
        ("no name", bad(&|s| s.name = " ".into()), "name"),
    ] {
        let err = s.apps().register(&admin, &spec).await.unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::InvalidInput, Some(field)),
            "{what}"
        );
    }
    let (app, secret) = s.apps().register(&admin, &spec(true)).await.unwrap();
    let secret = secret.unwrap();
    let renewed = s
        .apps()
        .rotate_secret(&admin, &app.client_id)
        .await
        .unwrap();
    assert_ne!(renewed, secret);
    // The old secret stopped working; the new one works.
    let creds = |secret: &str| AppCredentials {
        client_id: Some(app.client_id.clone()),
        client_secret: Some(secret.into()),
        basic: false,
        assertion: None,
    };
    let p = TokenParams {
        grant_type: Some("refresh_token".into()),
        refresh_token: Some("none".into()),
        ..Default::default()
    };
    let client = common::client();
    assert_eq!(
        s.oidc()
            .token(&creds(&secret), &p, &client)
            .await
            .unwrap_err()
            .error,
        "invalid_client"
    );
    assert_eq!(
        s.oidc()
            .token(&creds(&renewed), &p, &client)
            .await
            .unwrap_err()
            .error,
        "invalid_grant"
    );
    s.apps().delete(&admin, &app.client_id).await.unwrap();
    assert_eq!(
        s.oidc()
            .token(&creds(&renewed), &p, &client)
            .await
            .unwrap_err()
            .error,
        "invalid_client"
    );
    // Every change is in the log, with the admin.
    let log = s
        .admin()
        .activity(&latchkey_core::audit::ActivityFilter::default())
        .await
        .unwrap();
    let kinds: Vec<_> = log.events.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["app_registered", "app_secret_rotated", "app_deleted"] {
        assert!(kinds.contains(&kind), "{kind}: {kinds:?}");
    }
});

on_both_backends!(
    client_credentials_are_for_confidential_apps_acting_for_themselves,
    |backend| {
        let mut app_spec = spec(true);
        app_spec.grant_types.push("client_credentials".into());
        let t = setup(backend, app_spec).await;
        let client = common::client();
        let p = TokenParams {
            grant_type: Some("client_credentials".into()),
            ..Default::default()
        };
        let tokens = t.s.oidc().token(&creds(&t), &p, &client).await.unwrap();
        assert!(tokens.id_token.is_none() && tokens.refresh_token.is_none());
        let claims = claims_of(&tokens.access_token);
        assert_eq!(claims["sub"], t.client_id.as_str());
        assert_eq!(claims["aud"], t.client_id.as_str());
        let asking = TokenParams {
            scope: Some("email".into()),
            ..p.clone()
        };
        assert_eq!(
            t.s.oidc()
                .token(&creds(&t), &asking, &client)
                .await
                .unwrap_err()
                .error,
            "invalid_scope"
        );
        // An app not registered for it may not.
        let t2 = setup(backend, spec(true)).await;
        assert_eq!(
            t2.s.oidc()
                .token(&creds(&t2), &p, &client)
                .await
                .unwrap_err()
                .error,
            "unauthorized_client"
        );
        let unknown = TokenParams {
            grant_type: Some("password".into()),
            ..Default::default()
        };
        assert_eq!(
            t2.s.oidc()
                .token(&creds(&t2), &unknown, &client)
                .await
                .unwrap_err()
                .error,
            "unsupported_grant_type"
        );
    }
);

on_both_backends!(revocation_and_introspection_follow_the_grant, |backend| {
    let t = setup(backend, spec(true)).await;
    let client = common::client();
    let oidc = t.s.oidc();
    let code = allowed_code(&t, "openid email offline_access").await;
    let tokens = oidc
        .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
        .await
        .unwrap();
    let refresh = tokens.refresh_token.clone().unwrap();
    let live = oidc
        .introspect(&creds(&t), &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(live["active"], true);
    assert_eq!(live["sub"], t.user.user.id.as_str());
    assert_eq!(live["scope"], "email offline_access openid");
    let live = oidc.introspect(&creds(&t), &refresh).await.unwrap();
    assert_eq!(
        (live["active"].as_bool(), live["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    assert_eq!(
        oidc.introspect(&creds(&t), "junk").await.unwrap()["active"],
        false
    );

    // Another app's revocation of this app's token changes nothing.
    let admin = common::auth_of(&t.s, &common::make_admin(&t.s).await).await;
    let mut other = spec(true);
    other.name = "Other".into();
    let (other, other_secret) = t.s.apps().register(&admin, &other).await.unwrap();
    let stranger = AppCredentials {
        client_id: Some(other.client_id),
        client_secret: other_secret,
        basic: false,
        assertion: None,
    };
    oidc.revoke(&stranger, &tokens.access_token).await.unwrap();
    assert!(oidc.userinfo(&tokens.access_token).await.is_ok());

    // The app revokes its access token: the whole grant ends.
    oidc.revoke(&creds(&t), &tokens.access_token).await.unwrap();
    assert_eq!(
        oidc.userinfo(&tokens.access_token).await.unwrap_err().error,
        "invalid_token"
    );
    assert_eq!(
        oidc.introspect(&creds(&t), &tokens.access_token)
            .await
            .unwrap()["active"],
        false
    );
    assert_eq!(
        oidc.introspect(&creds(&t), &refresh).await.unwrap()["active"],
        false
    );
    let again = TokenParams {
        grant_type: Some("refresh_token".into()),
        refresh_token: Some(refresh.clone()),
        ..Default::default()
    };
    assert_eq!(
        oidc.token(&creds(&t), &again, &client)
            .await
            .unwrap_err()
            .error,
        "invalid_grant"
    );
    // Revoking twice, or junk, is still fine (RFC 7009 §2.2).
    oidc.revoke(&creds(&t), &refresh).await.unwrap();
    oidc.revoke(&creds(&t), "junk").await.unwrap();

    // The ID token names the session and the app, for RP-initiated logout.
    let code = allowed_code(&t, "openid").await;
    let tokens = oidc
        .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
        .await
        .unwrap();
    let id_token = tokens.id_token.unwrap();
    assert_eq!(
        oidc.logout_hint(&id_token).await.unwrap(),
        Some((t.user.session_id.clone(), t.client_id.clone()))
    );
    // One character in the middle of the signature changed.
    let at = id_token.len() - 20;
    let was = id_token.as_bytes()[at];
    let mut forged = id_token.clone();
    forged.replace_range(at..at + 1, if was == b'A' { "B" } else { "A" });
    assert_eq!(oidc.logout_hint(&forged).await.unwrap(), None);
    assert_eq!(
        oidc.logout_hint(&tokens.access_token).await.unwrap(),
        None,
        "not an ID token"
    );
});

on_both_backends!(only_apps_with_a_secret_introspect, |backend| {
    let t = setup(backend, spec(false)).await;
    let err =
        t.s.oidc()
            .introspect(&creds(&t), "anything")
            .await
            .unwrap_err();
    assert_eq!((err.error, err.status), ("invalid_client", 401));
});

on_both_backends!(
    signing_out_everywhere_ends_what_apps_were_given,
    |backend| {
        let t = setup(backend, spec(true)).await;
        let client = common::client();
        let code = allowed_code(&t, "openid offline_access").await;
        let tokens =
            t.s.oidc()
                .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
                .await
                .unwrap();
        assert!(t.s.oidc().userinfo(&tokens.access_token).await.is_ok());
        // An app's access got through a stolen session ends with "sign out
        // everywhere else" (and with a password change or reset, which share it).
        t.s.sessions().end_other_sessions(&t.user).await.unwrap();
        assert_eq!(
            t.s.oidc()
                .userinfo(&tokens.access_token)
                .await
                .unwrap_err()
                .error,
            "invalid_token"
        );
        let refresh = TokenParams {
            grant_type: Some("refresh_token".into()),
            refresh_token: tokens.refresh_token,
            ..Default::default()
        };
        assert_eq!(
            t.s.oidc()
                .token(&creds(&t), &refresh, &client)
                .await
                .unwrap_err()
                .error,
            "invalid_grant"
        );
    }
);

on_both_backends!(the_user_takes_an_apps_access_back, |backend| {
    let t = setup(backend, spec(true)).await;
    let client = common::client();
    let oidc = t.s.oidc();
    assert!(oidc.connected(&t.user).await.unwrap().is_empty());
    let code = allowed_code(&t, "openid email offline_access").await;
    let tokens = oidc
        .token(&creds(&t), &code_params(&code, Some(VERIFIER)), &client)
        .await
        .unwrap();
    let apps = oidc.connected(&t.user).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!((apps[0].name.as_str(), apps[0].active), ("Notes", true));
    assert_eq!(apps[0].scopes, ["email", "offline_access", "openid"]);

    oidc.disconnect(&t.user, &t.client_id).await.unwrap();
    assert!(oidc.connected(&t.user).await.unwrap().is_empty());
    assert_eq!(
        oidc.userinfo(&tokens.access_token).await.unwrap_err().error,
        "invalid_token"
    );
    let refresh = TokenParams {
        grant_type: Some("refresh_token".into()),
        refresh_token: tokens.refresh_token,
        ..Default::default()
    };
    assert_eq!(
        oidc.token(&creds(&t), &refresh, &client)
            .await
            .unwrap_err()
            .error,
        "invalid_grant"
    );
    // The next sign-in asks again; taking back twice finds nothing.
    let a = oidc
        .authorization(&params(&t.client_id, "openid email"))
        .await
        .unwrap();
    assert_eq!(oidc.step(Some(&t.user), &a).await.unwrap(), Step::Consent);
    assert_eq!(
        oidc.disconnect(&t.user, &t.client_id)
            .await
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    // In the user's own activity.
    let page =
        t.s.accounts()
            .own_activity(&t.user.user.id, None)
            .await
            .unwrap();
    assert!(page.events.iter().any(|e| e.kind.as_str() == "app_revoked"));
});

on_both_backends!(
    taking_access_back_spends_codes_not_yet_exchanged,
    |backend| {
        let t = setup(backend, spec(true)).await;
        let oidc = t.s.oidc();
        // A code fetched a moment before the user takes the access back.
        let code = allowed_code(&t, "openid email").await;
        oidc.disconnect(&t.user, &t.client_id).await.unwrap();
        let err = oidc
            .token(
                &creds(&t),
                &code_params(&code, Some(VERIFIER)),
                &common::client(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        // Not connected and not registered read the same: a user learns nothing
        // about which client ids exist.
        let not_connected = oidc.disconnect(&t.user, &t.client_id).await.unwrap_err();
        let unknown = oidc.disconnect(&t.user, "no-such-app").await.unwrap_err();
        assert_eq!(not_connected, unknown);
        assert_eq!(
            unknown.reason,
            Some(latchkey_core::error::Reason::NoSuchApp)
        );
    }
);

on_both_backends!(connected_apps_show_what_live_grants_hold, |backend| {
    let t = setup(backend, spec(true)).await;
    let oidc = t.s.oidc();
    let code = allowed_code(&t, "openid email offline_access").await;
    oidc.token(
        &creds(&t),
        &code_params(&code, Some(VERIFIER)),
        &common::client(),
    )
    .await
    .unwrap();
    // A later consent to less does not hide what the earlier grant holds.
    let mut again = params(&t.client_id, "openid profile");
    again.prompt = Some("consent".into());
    let a = oidc.authorization(&again).await.unwrap();
    assert_eq!(oidc.step(Some(&t.user), &a).await.unwrap(), Step::Consent);
    oidc.decide(&t.user, &a, true).await.unwrap();
    let apps = oidc.connected(&t.user).await.unwrap();
    assert_eq!(apps.len(), 1, "one entry per app");
    assert!(apps[0].active);
    assert_eq!(
        apps[0].scopes,
        ["email", "offline_access", "openid", "profile"]
    );
});

on_both_backends!(a_signed_in_user_gets_a_bounded_number_of_codes, |backend| {
    let t = setup(backend, first_party(spec(true))).await;
    let oidc = t.s.oidc();
    let a = oidc
        .authorization(&params(&t.client_id, "openid"))
        .await
        .unwrap();
    // Concurrently, as a script on a stolen session would.
    let steps = futures::future::join_all((0..40).map(|_| oidc.step(Some(&t.user), &a))).await;
    let (mut codes, mut refused) = (0, 0);
    for step in steps {
        let Step::Redirect(to) = step.unwrap() else {
            panic!("a first-party app is not asked about");
        };
        let q = query_of(&to);
        match q.get("error").map(String::as_str) {
            None => codes += 1,
            Some("temporarily_unavailable") => refused += 1,
            Some(other) => panic!("{other}"),
        }
    }
    assert_eq!((codes, refused), (30, 10));
});

on_both_backends!(
    wrong_app_credentials_from_one_address_must_wait,
    |backend| {
        let t = setup(backend, spec(true)).await;
        let oidc = &t.s.oidc();
        let guesser = common::client();
        let wrong = AppCredentials {
            client_id: Some(t.client_id.clone()),
            client_secret: Some("a guess".into()),
            ..Default::default()
        };
        let made_up = |i: usize| code_params(&format!("made-up-{i}"), Some(VERIFIER));
        // 60 concurrent guesses are answered; then the address waits, even
        // with the right secret.
        let answers = futures::future::join_all((0..60).map(|i| {
            let (wrong, params, guesser) = (wrong.clone(), made_up(i), guesser.clone());
            async move { oidc.token(&wrong, &params, &guesser).await.unwrap_err() }
        }))
        .await;
        assert!(answers
            .iter()
            .all(|e| (e.error, e.status) == ("invalid_client", 401)));
        let waited = oidc
            .token(&creds(&t), &made_up(60), &guesser)
            .await
            .unwrap_err();
        assert_eq!(
            (waited.error, waited.status),
            ("temporarily_unavailable", 429)
        );
        assert!(waited.retry_after.is_some_and(|s| s >= 1));

        // An app's server with the right secret never waits for its spent or
        // made-up codes (anyone can make it send those), nor for successes.
        let server = common::client();
        for i in 0..70 {
            let err = oidc
                .token(&creds(&t), &made_up(i), &server)
                .await
                .unwrap_err();
            assert_eq!(err.error, "invalid_grant");
        }
        let code = allowed_code(&t, "openid").await;
        oidc.token(&creds(&t), &code_params(&code, Some(VERIFIER)), &server)
            .await
            .unwrap();
    }
);

/// An app's own Ed25519 key: the private half signs its assertions, the
/// public half (as a JWK with `kid`) is what the admin registers.
struct AppKey {
    signing: jsonwebtoken::EncodingKey,
    jwk: Value,
}

fn app_key(kid: &str) -> AppKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_der()
    .unwrap();
    AppKey {
        signing: jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        jwk: serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "alg": "EdDSA",
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        }),
    }
}

/// An assertion `key` signs for `client_id`, with `change` applied to
/// its claims.
fn assertion(
    key: &AppKey,
    kid: &str,
    client_id: &str,
    aud: &str,
    change: impl Fn(&mut Value),
) -> String {
    let now = latchkey_core::now();
    let mut claims = serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 60,
    });
    change(&mut claims);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &key.signing).unwrap()
}

fn signed(assertion: String) -> AppCredentials {
    AppCredentials {
        assertion: Some((latchkey_core::oidc::JWT_BEARER.into(), assertion)),
        ..Default::default()
    }
}

on_both_backends!(
    an_app_with_keys_proves_itself_with_a_signed_assertion_once,
    |backend| {
        let key = app_key("k1");
        let t = setup(
            backend,
            AppSpec {
                jwks: Some(serde_json::json!({ "keys": [key.jwk] })),
                ..spec(true)
            },
        )
        .await;
        assert_eq!(t.secret, None, "an app with keys gets no secret");
        let oidc = t.s.oidc();
        // The audience is the issuer, alone (draft-ietf-oauth-rfc7523bis).
        let issuer = t.s.config.issuer.clone();
        let token_url = format!("{issuer}/oauth/token");
        let client = common::client();
        let code = allowed_code(&t, "openid email").await;
        let good = assertion(&key, "k1", &t.client_id, &issuer, |_| {});
        let tokens = oidc
            .token(
                &signed(good.clone()),
                &code_params(&code, Some(VERIFIER)),
                &client,
            )
            .await
            .expect("a valid assertion authenticates the app");
        assert!(tokens.id_token.is_some());

        // Each of these is refused as `invalid_client`.
        let other = app_key("k1");
        let es256 = {
            use p256::pkcs8::EncodePrivateKey as _;
            let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
            jsonwebtoken::EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes())
        };
        let now = latchkey_core::now();
        let with =
            |change: &dyn Fn(&mut Value)| assertion(&key, "k1", &t.client_id, &issuer, change);
        let refused = [
            ("replayed", good),
            (
                "signed by another key",
                assertion(&other, "k1", &t.client_id, &issuer, |_| {}),
            ),
            (
                "unknown kid",
                assertion(&key, "k2", &t.client_id, &issuer, |_| {}),
            ),
            (
                "for the token endpoint",
                assertion(&key, "k1", &t.client_id, &token_url, |_| {}),
            ),
            (
                "for another server",
                assertion(
                    &key,
                    "k1",
                    &t.client_id,
                    "https://elsewhere.example",
                    |_| {},
                ),
            ),
            (
                "for a list of audiences",
                with(&|c| c["aud"] = serde_json::json!([issuer, "https://elsewhere.example"])),
            ),
            (
                "expired",
                with(&|c| c["exp"] = serde_json::json!(now - 120)),
            ),
            (
                "not yet valid",
                with(&|c| c["nbf"] = serde_json::json!(now + 300)),
            ),
            (
                "living an hour",
                with(&|c| c["exp"] = serde_json::json!(now + 3600)),
            ),
            (
                "issued by someone else",
                with(&|c| c["iss"] = serde_json::json!("someone-else")),
            ),
            (
                "without a jti",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
            ),
            ("ES256 in the header of an Ed25519 key", {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                header.kid = Some("k1".into());
                let claims = serde_json::json!({
                    "iss": t.client_id, "sub": t.client_id, "aud": issuer,
                    "jti": "alg-swap", "exp": now + 60,
                });
                jsonwebtoken::encode(&header, &claims, &es256).unwrap()
            }),
        ];
        for (why, jwt) in refused {
            let code = allowed_code(&t, "openid email").await;
            let err = oidc
                .token(&signed(jwt), &code_params(&code, Some(VERIFIER)), &client)
                .await
                .unwrap_err();
            assert_eq!((err.error, err.status), ("invalid_client", 401), "{why}");
        }
        // Nothing else stands in, nor goes beside it.
        let code = allowed_code(&t, "openid email").await;
        let fresh = || signed(assertion(&key, "k1", &t.client_id, &issuer, |_| {}));
        let mut wrong_type = fresh();
        wrong_type.assertion.as_mut().unwrap().0 = "urn:example:other".into();
        let mut with_basic = fresh();
        (
            with_basic.client_id,
            with_basic.client_secret,
            with_basic.basic,
        ) = (Some(t.client_id.clone()), Some("x".into()), true);
        let mut for_another_app = fresh();
        for_another_app.client_id = Some("another-app".into());
        for (why, creds) in [
            ("a wrong assertion type", wrong_type),
            ("Basic beside it", with_basic),
            ("another client_id beside it", for_another_app),
            (
                "a secret instead",
                AppCredentials {
                    client_id: Some(t.client_id.clone()),
                    client_secret: Some("guess".into()),
                    ..Default::default()
                },
            ),
            (
                "nothing",
                AppCredentials {
                    client_id: Some(t.client_id.clone()),
                    ..Default::default()
                },
            ),
        ] {
            let err = oidc
                .token(&creds, &code_params(&code, Some(VERIFIER)), &client)
                .await
                .unwrap_err();
            assert_eq!(err.error, "invalid_client", "{why}");
        }
        // Revocation takes an assertion too.
        oidc.revoke(&fresh(), &tokens.access_token).await.unwrap();
    }
);

on_both_backends!(
    concurrent_uses_of_one_assertion_authenticate_once,
    |backend| {
        let key = app_key("k1");
        let t = setup(
            backend,
            AppSpec {
                jwks: Some(serde_json::json!({ "keys": [key.jwk] })),
                grant_types: vec!["client_credentials".into()],
                ..spec(true)
            },
        )
        .await;
        let oidc = &t.s.oidc();
        let jwt = assertion(&key, "k1", &t.client_id, &t.s.config.issuer, |_| {});
        let p = TokenParams {
            grant_type: Some("client_credentials".into()),
            ..Default::default()
        };
        let answers = futures::future::join_all((0..8).map(|_| {
            let creds = signed(jwt.clone());
            let p = p.clone();
            async move { oidc.token(&creds, &p, &common::client()).await }
        }))
        .await;
        assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 1);
    }
);

on_both_backends!(
    registering_keys_takes_public_ed25519_or_p256_keys_only,
    |backend| {
        let s = common::services(backend).await;
        let admin = common::make_admin(&s).await;
        let admin = common::auth_of(&s, &admin).await;
        let key = app_key("k1");
        let mut private = key.jwk.clone();
        private["d"] = serde_json::json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        let unnamed = |k: &AppKey| {
            let mut jwk = k.jwk.clone();
            jwk.as_object_mut().unwrap().remove("kid");
            jwk
        };
        let rsa = serde_json::json!({"kty": "RSA", "kid": "r", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"});
        for (why, keys) in [
            ("not a key set", serde_json::json!(["x"])),
            ("no keys", serde_json::json!({ "keys": [] })),
            ("a private part", serde_json::json!({ "keys": [private] })),
            ("an RSA key", serde_json::json!({ "keys": [rsa] })),
            (
                "two keys without kids",
                serde_json::json!({ "keys": [unnamed(&key), unnamed(&app_key("k2"))] }),
            ),
            (
                "two keys with one kid",
                serde_json::json!({ "keys": [key.jwk, app_key("k1").jwk] }),
            ),
            ("an encryption key", {
                let mut jwk = key.jwk.clone();
                jwk["use"] = serde_json::json!("enc");
                serde_json::json!({ "keys": [jwk] })
            }),
        ] {
            let err = s
                .apps()
                .register(
                    &admin,
                    &AppSpec {
                        jwks: Some(keys),
                        ..spec(true)
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(
                (err.reason, err.field.as_deref()),
                (Some(latchkey_core::error::Reason::AppKeys), Some("jwks")),
                "{why}"
            );
        }
        // Keys are for confidential apps; and an app keeps its way of proving
        // itself.
        let keys = serde_json::json!({ "keys": [key.jwk] });
        let err = s
            .apps()
            .register(
                &admin,
                &AppSpec {
                    jwks: Some(keys.clone()),
                    ..spec(false)
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.reason, Some(latchkey_core::error::Reason::AppKeys));
        let (with_secret, _) = s.apps().register(&admin, &spec(true)).await.unwrap();
        let err = s
            .apps()
            .update(
                &admin,
                &with_secret.client_id,
                &AppSpec {
                    jwks: Some(keys.clone()),
                    ..spec(true)
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.reason, Some(latchkey_core::error::Reason::AppKindFixed));
        let (with_keys, secret) = s
            .apps()
            .register(
                &admin,
                &AppSpec {
                    jwks: Some(keys),
                    ..spec(true)
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (secret, with_keys.auth_method.as_str()),
            (None, "private_key_jwt")
        );
        let err = s
            .apps()
            .rotate_secret(&admin, &with_keys.client_id)
            .await
            .unwrap_err();
        assert_eq!(err.reason, Some(latchkey_core::error::Reason::AppNoSecret));
        // A new key set replaces the old (a rotation), checked the same way.
        let next = serde_json::json!({ "keys": [app_key("k2").jwk, app_key("k3").jwk] });
        let changed = s
            .apps()
            .update(
                &admin,
                &with_keys.client_id,
                &AppSpec {
                    jwks: Some(next.clone()),
                    ..spec(true)
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.jwks.unwrap()["keys"].as_array().unwrap().len(), 2);
    }
);

on_both_backends!(
    a_first_party_public_app_on_a_loopback_address_is_still_asked,
    |backend| {
        let t = setup(backend, first_party(spec(false))).await;
        let oidc = t.s.oidc();
        // At its https address: straight back with a code.
        let a = oidc
            .authorization(&params(&t.client_id, "openid"))
            .await
            .unwrap();
        let Step::Redirect(to) = oidc.step(Some(&t.user), &a).await.unwrap() else {
            panic!("a first-party app at its https address is not asked about");
        };
        assert!(query_of(&to).contains_key("code"));
        // At its loopback address any local program could be listening.
        let loopback = AuthorizeParams {
            redirect_uri: Some("http://127.0.0.1:8765/cb".into()),
            ..params(&t.client_id, "openid")
        };
        let a = oidc.authorization(&loopback).await.unwrap();
        assert_eq!(oidc.step(Some(&t.user), &a).await.unwrap(), Step::Consent);
    }
);

on_both_backends!(
    a_nul_in_an_apps_credentials_is_the_requests_fault,
    |backend| {
        // PostgreSQL cannot hold a NUL: found by schemathesis at /oauth/revoke.
        let s = common::services(backend).await;
        let creds = AppCredentials {
            client_id: Some("app\u{0}id".into()),
            client_secret: Some("secret".into()),
            basic: false,
            assertion: None,
        };
        let client = common::client();
        let revoke = s.oidc().revoke(&creds, "token\u{0}").await.unwrap_err();
        let introspect = s.oidc().introspect(&creds, "token").await.unwrap_err();
        let p = TokenParams {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some("x".into()),
            ..Default::default()
        };
        let token = s.oidc().token(&creds, &p, &client).await.unwrap_err();
        for err in [revoke, introspect, token] {
            assert!(
                matches!(err.error, "invalid_request" | "invalid_client"),
                "{}: {}",
                err.error,
                err.description
            );
            assert!(err.status < 500);
        }
        let authorize = s
            .oidc()
            .authorization(&AuthorizeParams {
                client_id: Some("app\u{0}id".into()),
                ..Default::default()
            })
            .await;
        assert!(
            matches!(authorize, Err(Refusal::UnknownApp)),
            "{authorize:?}"
        );
    }
);
