//! One-time codes and mail, on both ephemeral stores and through a real
//! SMTP server on loopback.

mod common;

use std::sync::Arc;
use std::time::Duration;

use app::error::ErrorCode;
use app::ssr::ephemeral::CodeCheck;
use app::ssr::{AuthConfig, ClientInfo, EphemeralStore, MemoryStore, Services};
use common::{smtp, unique_name, Backend};

use common::PASSWORD;

async fn store(backend: Backend) -> Arc<dyn EphemeralStore> {
    common::ephemeral(backend).await
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some(format!("10.9.{}.{}", rand_byte(), rand_byte())),
        user_agent: None,
        locale: Default::default(),
    }
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

on_both_backends!(a_code_is_consumed_once, |backend| {
    let s = store(backend).await;
    s.put_code("k", "right", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        s.check_code("k", "wrong", 5).await.unwrap(),
        CodeCheck::Wrong { tries_left: 4 }
    );
    assert_eq!(
        s.check_code("k", "right", 5).await.unwrap(),
        CodeCheck::Accepted
    );
    assert_eq!(
        s.check_code("k", "right", 5).await.unwrap(),
        CodeCheck::Missing
    );
});

on_both_backends!(five_wrong_tries_kill_the_code, |backend| {
    let s = store(backend).await;
    s.put_code("k", "right", Duration::from_secs(60))
        .await
        .unwrap();
    for left in (0..5).rev() {
        assert_eq!(
            s.check_code("k", "nope", 5).await.unwrap(),
            CodeCheck::Wrong { tries_left: left }
        );
    }
    assert_eq!(
        s.check_code("k", "right", 5).await.unwrap(),
        CodeCheck::Missing
    );
});

on_both_backends!(codes_expire, |backend| {
    let s = store(backend).await;
    s.put_code("k", "right", Duration::from_millis(300))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.check_code("k", "right", 5).await.unwrap(),
        CodeCheck::Missing
    );
});

on_both_backends!(
    fifty_parallel_checks_of_the_right_code_accept_once,
    |backend| {
        let s = store(backend).await;
        s.put_code("k", "right", Duration::from_secs(60))
            .await
            .unwrap();
        let checks = (0..50).map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.check_code("k", "right", 5).await.unwrap() })
        });
        let results = futures::future::join_all(checks).await;
        let accepted = results
            .iter()
            .filter(|r| *r.as_ref().unwrap() == CodeCheck::Accepted)
            .count();
        assert_eq!(accepted, 1);
    }
);

on_both_backends!(cooldowns_and_limits, |backend| {
    let s = store(backend).await;
    assert_eq!(
        s.cooldown("c", Duration::from_secs(60)).await.unwrap(),
        None
    );
    let left = s
        .cooldown("c", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("running");
    assert!(
        left <= Duration::from_secs(60) && left > Duration::from_secs(55),
        "{left:?}"
    );
    for _ in 0..3 {
        assert_eq!(s.hit("h", Duration::from_secs(60), 3).await.unwrap(), None);
    }
    assert!(s
        .hit("h", Duration::from_secs(60), 3)
        .await
        .unwrap()
        .is_some());
});

async fn signed_up(s: &Services) -> (app::ssr::Auth, String) {
    let account = common::sign_up(s).await;
    (common::auth_of(s, &account).await, account.email)
}

on_both_backends!(sign_up_mails_a_code_that_verifies_the_email, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let (auth, email) = signed_up(&s).await;
    let mail = inbox.wait_for(&email, 10).await;
    assert!(
        mail.contains("multipart/alternative") && mail.contains("text/html"),
        "{mail}"
    );
    let code = smtp::code_in(&mail);
    let user = s.verify_email(&auth, &code, &client()).await.unwrap();
    assert!(user.email_verified);
    let row = app::ssr::users::by_id(&s.db, &auth.user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.email_verified, 1);
    assert_eq!(s.outbox_depth().await.unwrap(), 0);
});

on_both_backends!(
    wrong_expired_and_early_resends_are_refused_clearly,
    |backend| {
        let mut config = AuthConfig::for_tests();
        config.codes.ttl = Duration::from_secs(2);
        let (s, inbox) = common::services_with_smtp(backend, config).await;
        let (auth, email) = signed_up(&s).await;
        let code = smtp::code_in(&inbox.wait_for(&email, 10).await);
        let wrong = if code == "000000" { "111111" } else { "000000" };

        let err = s.verify_email(&auth, wrong, &client()).await.unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::CodeWrong, Some("code"))
        );
        assert!(err.message.contains("4 tries left"), "{}", err.message);

        let err = s.send_verification(&auth, &client()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert!(err.retry_after.is_some_and(|s| s > 50 && s <= 60));

        tokio::time::sleep(Duration::from_millis(2200)).await;
        let err = s.verify_email(&auth, &code, &client()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::CodeExpired);

        let err = s.verify_email(&auth, "12a", &client()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
    }
);

on_both_backends!(five_wrong_codes_kill_it_even_for_the_right_one, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let (auth, email) = signed_up(&s).await;
    let code = smtp::code_in(&inbox.wait_for(&email, 10).await);
    let wrong = if code == "999999" { "888888" } else { "999999" };
    for _ in 0..4 {
        assert_eq!(
            s.verify_email(&auth, wrong, &client())
                .await
                .unwrap_err()
                .code,
            ErrorCode::CodeWrong
        );
    }
    assert_eq!(
        s.verify_email(&auth, wrong, &client())
            .await
            .unwrap_err()
            .code,
        ErrorCode::CodeDead
    );
    assert_eq!(
        s.verify_email(&auth, &code, &client())
            .await
            .unwrap_err()
            .code,
        ErrorCode::CodeExpired
    );
});

on_both_backends!(
    mail_queued_while_smtp_is_down_is_delivered_when_it_returns,
    |backend| {
        // Reserve a port, then close it: SMTP is "down".
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = common::services(backend).await;
        common::start_outbox(&s, port);
        let (_, email) = signed_up(&s).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            s.outbox_depth().await.unwrap(),
            1,
            "kept while SMTP is down"
        );

        let inbox = smtp::serve(
            tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap(),
        );
        let mail = inbox.wait_for(&email, 20).await;
        assert_eq!(smtp::code_in(&mail).len(), 6);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(s.outbox_depth().await.unwrap(), 0);
    }
);

#[tokio::test]
async fn the_in_process_store_needs_no_server() {
    let s = MemoryStore::new();
    assert!(s.ping().await.is_ok());
    assert_eq!(s.kind(), "in-process");
}

on_both_backends!(
    email_changes_only_after_the_code_to_the_new_address,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, _) = signed_up(&s).await;
        let new_email = format!("new{}@example.com", unique_name());

        let err = s
            .request_email_change(&auth, &auth.user.email, &client())
            .await
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("new_email"));

        s.request_email_change(&auth, &new_email.to_uppercase(), &client())
            .await
            .unwrap();
        let code = smtp::code_in(&inbox.wait_for(&new_email, 10).await);
        let row = app::ssr::users::by_id(&s.db, &auth.user.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.email, auth.user.email,
            "nothing changes before the code"
        );

        let user = s
            .confirm_email_change(&auth, &new_email, &code, &client())
            .await
            .unwrap();
        assert_eq!(
            (user.email.as_str(), user.email_verified),
            (new_email.as_str(), true)
        );
        let (_, issued) = s
            .login(&new_email, PASSWORD.into(), &client())
            .await
            .unwrap();
        assert!(s
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some());
    }
);

on_both_backends!(
    an_email_change_to_a_taken_address_fails_cleanly,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, _) = signed_up(&s).await;
        let (_, other) = signed_up(&s).await;
        s.request_email_change(&auth, &other, &client())
            .await
            .unwrap();
        // The other account's verification mail came first; take the newest.
        let code = loop {
            let mail = inbox.wait_for(&other, 10).await;
            if mail.contains("change your email") {
                break smtp::code_in(&mail);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let err = s
            .confirm_email_change(&auth, &other, &code, &client())
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::EmailTaken, None)
        );
    }
);

on_both_backends!(
    sign_in_by_code_and_no_hint_about_unknown_addresses,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, email) = signed_up(&s).await;
        s.request_signin_code(&email, &client()).await.unwrap();
        let code = loop {
            let mail = inbox.wait_for(&email, 10).await;
            if mail.contains("sign-in code") {
                break smtp::code_in(&mail);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (user, issued) = s.signin_with_code(&email, &code, &client()).await.unwrap();
        assert_eq!(user.id, auth.user.id);
        assert!(user.email_verified, "the code proves the address");
        assert!(s
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some());
        let again = s
            .signin_with_code(&email, &code, &client())
            .await
            .unwrap_err();
        assert_eq!(again.code, ErrorCode::CodeExpired, "single use");

        // An unknown address gets the same answer, the same cooldown, and no mail.
        let nobody = format!("{}@example.com", unique_name());
        s.request_signin_code(&nobody, &client()).await.unwrap();
        let second = s.request_signin_code(&nobody, &client()).await.unwrap_err();
        assert_eq!(second.code, ErrorCode::RateLimited);
        let err = s
            .signin_with_code(&nobody, "123456", &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::CodeExpired);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(inbox.all().iter().all(|m| !m.contains(&nobody)));
    }
);
