//! Sessions held in memory (`session_cache`): every change to a user or
//! their sessions reaches the very next request, on both deployments.

use crate::common;

use std::time::{Duration, Instant};

use common::{smtp, unique_name, NewAccount, PASSWORD};
use latchkey_core::model::{Role, UserChange};
use latchkey_core::sessions::Issued;
use latchkey_core::{now, Auth, AuthConfig, Services};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn client() -> latchkey_core::ClientInfo {
    common::client_at("127.0.0.1")
}

/// With Redis, memory answers only once the channel is heard.
async fn usable(s: &Services) {
    let start = Instant::now();
    while !s.session_cache.usable() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the session cache never heard its channel"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn seen(s: &Services, issued: &Issued) -> Option<Auth> {
    s.sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
}

/// The session's state, once it is held in memory.
async fn held(s: &Services, issued: &Issued) -> Auth {
    let auth = seen(s, issued).await.expect("a live session");
    assert!(
        s.session_cache
            .get(&issued.session_id, &auth.user.id, now())
            .is_some(),
        "held after one request"
    );
    auth
}

async fn another_session(s: &Services, account: &NewAccount) -> Issued {
    let (_, issued) = s
        .accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .unwrap();
    held(s, &issued).await;
    issued
}

on_both_backends!(every_change_reaches_the_next_request, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    usable(&s).await;
    let mut account = common::sign_up(&s).await;
    let me = &account.issued.clone();

    // The profile: username, language, the address proven, then changed.
    let auth = held(&s, me).await;
    let name = unique_name();
    s.accounts().update_username(&auth, &name).await.unwrap();
    let auth = seen(&s, me).await.unwrap();
    assert_eq!(auth.user.username, name);
    s.accounts().set_locale(&auth, "ko").await.unwrap();
    let auth = held(&s, me).await;
    assert_eq!(auth.user.locale, "ko");
    let code = smtp::code_in(
        &inbox
            .wait_for_subject(&account.email, "verification code")
            .await,
    );
    s.accounts()
        .verify_email(&auth, &code, &client())
        .await
        .unwrap();
    let auth = held(&s, me).await;
    assert!(auth.user.email_verified);
    let new_email = format!("new{}@example.com", unique_name());
    s.accounts()
        .request_email_change(&auth, &new_email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let code = smtp::code_in(&inbox.wait_for(&new_email, 10).await);
    s.accounts()
        .confirm_email_change(&auth, &new_email, &code, &client())
        .await
        .unwrap();
    assert_eq!(seen(&s, me).await.unwrap().user.email, new_email);
    account.email = new_email;

    // Ending sessions: a password change, "everywhere else", one, log-out.
    let other = another_session(&s, &account).await;
    let auth = held(&s, me).await;
    s.passwords()
        .change_password(&auth, PASSWORD.into(), NEW_PASSWORD.into())
        .await
        .unwrap();
    assert!(seen(&s, &other).await.is_none(), "password change");
    s.passwords()
        .change_password(&auth, NEW_PASSWORD.into(), PASSWORD.into())
        .await
        .unwrap();
    let other = another_session(&s, &account).await;
    let auth = held(&s, me).await;
    s.sessions().end_other_sessions(&auth).await.unwrap();
    assert!(seen(&s, &other).await.is_none(), "everywhere else");
    let other = another_session(&s, &account).await;
    s.sessions()
        .end_session(&auth, &other.session_id)
        .await
        .unwrap();
    assert!(seen(&s, &other).await.is_none(), "one session");
    let auth = held(&s, me).await;
    s.sessions().logout(&auth).await.unwrap();
    assert!(seen(&s, me).await.is_none(), "log-out");

    // An administrator's changes.
    let admin = common::make_admin(&s).await;
    let admin = common::auth_of(&s, &admin).await;
    let change = |role, disabled| UserChange {
        role,
        disabled,
        email_verified: None,
    };
    let target = common::sign_up(&s).await;
    held(&s, &target.issued).await;
    s.admin()
        .change_user(&admin, &target.user.id, &change(Some(Role::Admin), None))
        .await
        .unwrap();
    let auth = held(&s, &target.issued).await;
    assert_eq!(auth.user.role, Role::Admin);
    s.admin()
        .change_user(&admin, &target.user.id, &change(None, Some(true)))
        .await
        .unwrap();
    assert!(seen(&s, &target.issued).await.is_none(), "disabled");

    let target = common::sign_up(&s).await;
    held(&s, &target.issued).await;
    s.admin()
        .admin_revoke_sessions(&admin, &target.user.id, None)
        .await
        .unwrap();
    assert!(seen(&s, &target.issued).await.is_none(), "admin ended all");
    let target = common::sign_up(&s).await;
    held(&s, &target.issued).await;
    s.admin()
        .admin_delete_user(&admin, &target.user.id)
        .await
        .unwrap();
    assert!(seen(&s, &target.issued).await.is_none(), "admin deleted");

    // A reset link, and deleting one's own account.
    let target = common::sign_up(&s).await;
    held(&s, &target.issued).await;
    s.passwords()
        .forgot_password(&target.email, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&target.email, "Reset your").await;
    s.passwords()
        .reset_password(&smtp::reset_token_in(&mail), NEW_PASSWORD.into(), &client())
        .await
        .unwrap();
    assert!(seen(&s, &target.issued).await.is_none(), "password reset");
    let target = common::sign_up(&s).await;
    let auth = held(&s, &target.issued).await;
    s.passwords()
        .delete_account(&auth, PASSWORD.into())
        .await
        .unwrap();
    assert!(seen(&s, &target.issued).await.is_none(), "account deleted");
});

/// Two instances on one PostgreSQL and one Redis: what one changes, the
/// other stops serving from memory well within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_forgets_within_a_second() {
    let url = common::fresh_db_url(common::Backend::Postgres).await;
    let prefix = format!("lktest:{}:", uuid::Uuid::new_v4().simple());
    let mut instances = Vec::new();
    for _ in 0..2 {
        let s = Services::new(
            common::connect(&url).await,
            std::sync::Arc::new(common::redis_store_in(&prefix).await),
            AuthConfig::for_tests(),
            common::letters(),
        );
        usable(&s).await;
        instances.push(s);
    }
    let (a, b) = (&instances[0], &instances[1]);
    let account = common::sign_up(a).await;
    let auth = held(b, &account.issued).await;
    let name = unique_name();
    a.accounts().update_username(&auth, &name).await.unwrap();
    let start = Instant::now();
    while seen(b, &account.issued).await.unwrap().user.username != name {
        assert!(start.elapsed() < Duration::from_secs(1), "still stale");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    held(b, &account.issued).await;
    a.sessions().logout(&auth).await.unwrap();
    let start = Instant::now();
    while seen(b, &account.issued).await.is_some() {
        assert!(start.elapsed() < Duration::from_secs(1), "still signed in");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
