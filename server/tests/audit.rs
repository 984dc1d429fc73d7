//! Every flow that handles a secret runs with all logging on (TRACE, every
//! crate) over real SMTP; then no password, code or token may appear in the
//! captured logs or anywhere in the activity log. A test binary of its own:
//! it owns the process's log subscriber.

#[path = "it/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use app::model::{Role, UserChange};
use axum::http::StatusCode;
use common::http::*;
use common::{leptos_options, smtp, Backend, PASSWORD};
use latchkey_core::{AuthConfig, ClientInfo, Services};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("203.0.113.5".into()),
        user_agent: Some("curl/8.5.0".into()),
        locale: "en",
        device: None,
    }
}

/// Runs every secret-handling flow; returns the secrets it saw.
async fn exercise(s: &Services, inbox: &smtp::Inbox) -> Vec<String> {
    let mut secrets = Vec::new();
    let name = common::unique_name();
    let email = format!("{name}@example.com");
    let c = client();

    let (_, issued) = s
        .accounts()
        .signup(&email, &name, PASSWORD.into(), &c)
        .await
        .unwrap();
    let code = smtp::code_in(&inbox.wait_for_subject(&email, "verification code").await);
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &c)
        .await
        .unwrap()
        .unwrap();
    s.accounts().verify_email(&auth, &code, &c).await.unwrap();
    secrets.extend([
        code,
        issued.access_token.clone(),
        issued.refresh_token.clone(),
    ]);

    let wrong = "not-my-password-9f8e7d";
    s.accounts()
        .login(&name, wrong.into(), &c)
        .await
        .unwrap_err();
    let (_, issued) = s
        .accounts()
        .login(&email, PASSWORD.into(), &c)
        .await
        .unwrap();
    let (rotated, _) = s
        .sessions()
        .refresh(&issued.refresh_token, &c)
        .await
        .unwrap();
    // A reuse after the grace window would end the session; a wrong token is logged as such.
    s.sessions()
        .refresh("not-a-real-refresh-token-0123456789abcdef", &c)
        .await
        .unwrap_err();
    secrets.extend([
        wrong.to_owned(),
        issued.refresh_token,
        rotated.access_token,
        rotated.refresh_token.clone(),
    ]);

    s.accounts().request_signin_code(&email, &c).await.unwrap();
    let code = smtp::code_in(&inbox.wait_for_subject(&email, "sign-in code").await);
    s.accounts()
        .signin_with_code(&email, "000000", &c)
        .await
        .ok();
    let (_, issued) = s
        .accounts()
        .signin_with_code(&email, &code, &c)
        .await
        .unwrap();
    secrets.extend([code, issued.access_token]);

    s.passwords().forgot_password(&email, &c).await.unwrap();
    let token = smtp::reset_token_in(&inbox.wait_for_subject(&email, "Reset your").await);
    let reset_to = "reset passphrase 7c6b5a";
    let (_, issued) = s
        .passwords()
        .reset_password(&token, reset_to.into(), &c)
        .await
        .unwrap();
    secrets.extend([token, reset_to.to_owned(), issued.refresh_token.clone()]);

    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &c)
        .await
        .unwrap()
        .unwrap();
    let changed_to = "changed passphrase 4d3c2b";
    s.passwords()
        .change_password(&auth, reset_to.into(), changed_to.into())
        .await
        .unwrap();
    let new_email = format!("new-{email}");
    s.accounts()
        .request_email_change(&auth, &new_email, changed_to.into(), &c)
        .await
        .unwrap();
    let code = smtp::code_in(
        &inbox
            .wait_for_subject(&new_email, "change your email")
            .await,
    );
    s.accounts()
        .confirm_email_change(&auth, &new_email, &code, &c)
        .await
        .unwrap();
    secrets.extend([changed_to.to_owned(), code]);

    let admin_password = "operator passphrase 1a2b3c";
    let admin_name = common::unique_name();
    s.admin()
        .create_admin(
            &format!("{admin_name}@example.com"),
            &admin_name,
            false,
            || Ok(admin_password.into()),
        )
        .await
        .unwrap();
    let (_, admin_issued) = s
        .accounts()
        .login(&admin_name, admin_password.into(), &c)
        .await
        .unwrap();
    let admin = latchkey_core::Auth {
        client: c.clone(),
        ..s.sessions()
            .authenticate(&admin_issued.access_token, &c)
            .await
            .unwrap()
            .unwrap()
    };
    s.admin()
        .admin_send_reset(&admin, &auth.user.id)
        .await
        .unwrap();
    let token = smtp::reset_token_in(&inbox.wait_for_subject(&new_email, "Reset your").await);
    s.admin()
        .change_user(
            &admin,
            &auth.user.id,
            &UserChange {
                role: Some(Role::User),
                disabled: Some(true),
                email_verified: None,
            },
        )
        .await
        .unwrap();
    secrets.extend([
        admin_password.to_owned(),
        admin_issued.access_token.clone(),
        token,
    ]);
    let revert = smtp::revert_token_in(
        &inbox
            .wait_for_subject(&email, "email address of your")
            .await,
    );
    s.accounts().revert_email_change(&revert, &c).await.unwrap();
    secrets.push(revert);

    // What a visitor types into a name field never reaches a log line, so
    // neither does a newline that would forge one.
    let typed = "someone\nINFO forged log line 9q8w";
    let _ = s.accounts().login(typed, "whatever it is".into(), &c).await;
    let _ = s.accounts().request_signin_code(typed, &c).await;
    let _ = s.passwords().forgot_password(typed, &c).await;
    let _ = s.accounts().signup(typed, typed, PASSWORD.into(), &c).await;
    secrets.push("forged log line 9q8w".to_owned());

    // The same over HTTP, as API clients send them.
    let app = server::router::build(s.clone(), leptos_options(), ORIGIN);
    let api_password = "api passphrase 5e6f7a";
    let api_name = common::unique_name();
    let res = send(
        &app,
        json_post(
            "/api/v1/auth/signup",
            json!({"email": format!("{api_name}@example.com"), "username": api_name, "password": api_password}),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let tokens = body_json(res).await;
    let res = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({"login": api_name, "password": "api wrong password 0x0x"}),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = send(
        &app,
        bearer_get("/api/v1/admin/events?limit=200", &admin_issued.access_token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    secrets.extend([
        api_password.to_owned(),
        "api wrong password 0x0x".to_owned(),
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
        PASSWORD.to_owned(),
    ]);
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_password_code_or_token_reaches_the_logs_or_the_activity_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let secrets = exercise(&s, &inbox).await;
        assert!(secrets.len() >= 20);

        let mut audit = String::new();
        let mut events = 0;
        for column in [
            "kind",
            "user_id",
            "actor_id",
            "reason",
            "detail",
            "ip",
            "user_agent",
        ] {
            let values: Vec<(Option<String>,)> =
                sqlx::query_as(&format!("SELECT {column} FROM audit_events"))
                    .fetch_all(&s.db.pool)
                    .await
                    .unwrap();
            events = values.len();
            audit += &format!("{values:?}");
        }
        assert!(events >= 20, "{backend:?}: {events} events");
        let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
        assert!(logs.contains("security event"), "the logs were captured");
        assert!(logs.contains("sqlx::query"), "down to every SQL statement");
        for secret in &secrets {
            assert!(
                !audit.contains(secret.as_str()),
                "{backend:?}: {secret:?} is in the activity log"
            );
            assert!(
                !logs.contains(secret.as_str()),
                "{backend:?}: {secret:?} is in the logs"
            );
        }
    }
}
