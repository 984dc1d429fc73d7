//! Password reset by emailed link (over real SMTP), password change, account
//! deletion and the password policy, on both deployments.

use crate::common;

use std::time::Duration;

use common::{client, smtp, Backend, NewAccount, PASSWORD};
use latchkey_core::ErrorCode;
use latchkey_core::{AuthConfig, Services};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Asks for a reset link for `account` and returns its token from the mail.
async fn reset_token(s: &Services, inbox: &smtp::Inbox, account: &NewAccount) -> String {
    s.passwords()
        .forgot_password(&account.email, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&account.email, "Reset your").await;
    let token = smtp::reset_token_in(&mail);
    assert_eq!(token.len(), 43, "a 256-bit token: {mail}");
    token
}

/// Whether an access token still opens a session.
async fn live(s: &Services, access_token: &str) -> bool {
    s.sessions()
        .authenticate(access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .is_some()
}

fn code_of<T: std::fmt::Debug>(result: Result<T, latchkey_core::Error>) -> ErrorCode {
    result.expect_err("should be refused").code
}

on_both_backends!(a_reset_link_works_once_and_ends_every_session, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let account = common::sign_up(&s).await;
    let token = reset_token(&s, &inbox, &account).await;
    assert_eq!(
        s.passwords().check_reset_link(&token).await.unwrap(),
        account.email
    );

    let (user, issued) = s
        .passwords()
        .reset_password(&token, NEW_PASSWORD.into(), &client())
        .await
        .unwrap();
    assert!(user.email_verified, "the link proved the address");
    assert!(live(&s, &issued.access_token).await);
    // The session from before the reset is over, access and refresh alike.
    assert!(!live(&s, &account.issued.access_token).await);
    assert!(s
        .sessions()
        .refresh(&account.issued.refresh_token, &common::NO_CLIENT)
        .await
        .is_err());
    // Old password out, new one in.
    assert_eq!(
        code_of(
            s.accounts()
                .login(&account.email, PASSWORD.into(), &client())
                .await
        ),
        ErrorCode::InvalidCredentials
    );
    s.accounts()
        .login(&account.email, NEW_PASSWORD.into(), &client())
        .await
        .unwrap();
    // Single use.
    let again = s
        .passwords()
        .reset_password(&token, "yet another passphrase".into(), &client())
        .await
        .unwrap_err();
    assert_eq!(again.code, ErrorCode::LinkExpired);
    assert!(
        common::words(&again).contains("already used"),
        "{}",
        common::words(&again)
    );
    assert_eq!(
        s.passwords()
            .check_reset_link(&token)
            .await
            .unwrap_err()
            .code,
        ErrorCode::LinkExpired
    );
    // And the owner hears about it.
    inbox
        .wait_for_subject(&account.email, "password was changed")
        .await;
});

on_both_backends!(
    unknown_addresses_get_the_same_answer_and_no_mail,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let known = common::sign_up(&s).await;
        let unknown = format!("{}@example.com", common::unique_name());
        assert_eq!(
            s.passwords().forgot_password(&unknown, &client()).await,
            Ok(unknown.clone())
        );
        assert_eq!(
            s.passwords().forgot_password(&known.email, &client()).await,
            Ok(known.email.clone())
        );
        inbox.wait_for_subject(&known.email, "Reset your").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !inbox
                .all()
                .iter()
                .any(|m| m.contains(&format!("To: {unknown}"))),
            "no mail for an address without an account"
        );
        // Bad input is still refused clearly.
        let bad = s
            .passwords()
            .forgot_password("not an email", &client())
            .await
            .unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("email"));
    }
);

on_both_backends!(reset_links_expire, |backend| {
    let mut config = AuthConfig::for_tests();
    config.reset_ttl = Duration::from_secs(1);
    let (s, inbox) = common::services_with_smtp(backend, config).await;
    let account = common::sign_up(&s).await;
    let token = reset_token(&s, &inbox, &account).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = s
        .passwords()
        .reset_password(&token, NEW_PASSWORD.into(), &client())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::LinkExpired);
    assert!(
        common::words(&err).contains("expired"),
        "{}",
        common::words(&err)
    );
    s.accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .expect("the password is unchanged");
});

on_both_backends!(changing_the_password_retires_outstanding_links, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let account = common::sign_up(&s).await;
    let token = reset_token(&s, &inbox, &account).await;
    let auth = common::auth_of(&s, &account).await;
    s.passwords()
        .change_password(&auth, PASSWORD.into(), NEW_PASSWORD.into())
        .await
        .unwrap();
    assert_eq!(
        code_of(
            s.passwords()
                .reset_password(&token, "attacker's choice!".into(), &client())
                .await
        ),
        ErrorCode::LinkExpired
    );
});

on_both_backends!(malformed_and_unknown_links_are_invalid, |backend| {
    let s = common::services(backend).await;
    for token in [
        "",
        "abc",
        "' OR 1=1 --",
        &"x".repeat(5000),
        &latchkey_core::tokens::random_token(),
    ] {
        assert_eq!(
            s.passwords()
                .check_reset_link(token)
                .await
                .unwrap_err()
                .code,
            ErrorCode::LinkInvalid,
            "{token:?}"
        );
        assert_eq!(
            code_of(
                s.passwords()
                    .reset_password(token, NEW_PASSWORD.into(), &client())
                    .await
            ),
            ErrorCode::LinkInvalid
        );
    }
});

on_both_backends!(a_refused_new_password_leaves_the_link_usable, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let account = common::sign_up(&s).await;
    let token = reset_token(&s, &inbox, &account).await;
    for (weak, code) in [
        ("short", ErrorCode::InvalidInput),
        ("password1", ErrorCode::WeakPassword),
        ("iloveyou", ErrorCode::WeakPassword),
        (&format!("{}-rules", account.name), ErrorCode::WeakPassword),
        (&"x".repeat(129), ErrorCode::InvalidInput),
    ] {
        let err = s
            .passwords()
            .reset_password(&token, weak.to_owned(), &client())
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (code, Some("password")),
            "{weak}"
        );
    }
    s.passwords()
        .reset_password(&token, NEW_PASSWORD.into(), &client())
        .await
        .expect("the link survived the refusals");
});

on_both_backends!(two_racing_uses_of_one_link_succeed_once, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let account = common::sign_up(&s).await;
    let token = reset_token(&s, &inbox, &account).await;
    let tries = (0..4).map(|i| {
        let (s, token) = (s.clone(), token.clone());
        tokio::spawn(async move {
            s.passwords()
                .reset_password(&token, format!("racing passphrase {i}"), &client())
                .await
        })
    });
    let mut wins = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(e.code, ErrorCode::LinkExpired),
        }
    }
    assert_eq!(wins, 1);
});

on_both_backends!(
    change_password_needs_the_current_one_and_ends_other_sessions,
    |backend| {
        let (s, _inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let account = common::sign_up(&s).await;
        let (_, other) = s
            .accounts()
            .login(&account.email, PASSWORD.into(), &client())
            .await
            .unwrap();
        let auth = common::auth_of(&s, &account).await;

        let wrong = s
            .passwords()
            .change_password(&auth, "not my password".into(), NEW_PASSWORD.into())
            .await
            .unwrap_err();
        assert_eq!(
            (wrong.code, wrong.field.as_deref()),
            (ErrorCode::InvalidCredentials, Some("current_password"))
        );
        let same = s
            .passwords()
            .change_password(&auth, PASSWORD.into(), PASSWORD.into())
            .await
            .unwrap_err();
        assert_eq!(same.field.as_deref(), Some("new_password"));
        let common_one = s
            .passwords()
            .change_password(&auth, PASSWORD.into(), "qwertyuiop".into())
            .await
            .unwrap_err();
        assert_eq!(
            (common_one.code, common_one.field.as_deref()),
            (ErrorCode::WeakPassword, Some("new_password"))
        );

        s.passwords()
            .change_password(&auth, PASSWORD.into(), NEW_PASSWORD.into())
            .await
            .unwrap();
        assert!(
            live(&s, &account.issued.access_token).await,
            "this session stays"
        );
        assert!(!live(&s, &other.access_token).await, "the other one ends");
        assert!(s
            .sessions()
            .refresh(&other.refresh_token, &common::NO_CLIENT)
            .await
            .is_err());
        s.accounts()
            .login(&account.name, NEW_PASSWORD.into(), &client())
            .await
            .unwrap();
    }
);

on_both_backends!(
    deleting_an_account_needs_its_password_and_removes_it,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let account = common::sign_up(&s).await;
        let auth = common::auth_of(&s, &account).await;
        let wrong = s
            .passwords()
            .delete_account(&auth, "nope nope nope".into())
            .await
            .unwrap_err();
        assert_eq!(
            (wrong.code, wrong.field.as_deref()),
            (ErrorCode::InvalidCredentials, Some("password"))
        );
        assert!(latchkey_core::user_store::by_id(&s.db, &auth.user.id)
            .await
            .unwrap()
            .is_some());

        s.passwords()
            .delete_account(&auth, PASSWORD.into())
            .await
            .unwrap();
        assert!(latchkey_core::user_store::by_id(&s.db, &auth.user.id)
            .await
            .unwrap()
            .is_none());
        assert!(!live(&s, &account.issued.access_token).await);
        assert!(s
            .sessions()
            .refresh(&account.issued.refresh_token, &common::NO_CLIENT)
            .await
            .is_err());
        let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(&auth.user.id)
            .fetch_one(&s.db.pool)
            .await
            .unwrap();
        assert_eq!(sessions, 0);
        assert_eq!(
            code_of(
                s.accounts()
                    .login(&account.email, PASSWORD.into(), &client())
                    .await
            ),
            ErrorCode::InvalidCredentials
        );
        inbox
            .wait_for_subject(&account.email, "account was deleted")
            .await;
        // The address is free again.
        s.accounts()
            .signup(&account.email, &account.name, PASSWORD.into(), &client())
            .await
            .expect("sign up again with the same address");
    }
);

on_both_backends!(sign_up_applies_the_password_policy, |backend| {
    let s = common::services(backend).await;
    let name = common::unique_name();
    for (password, code) in [
        ("1234567", ErrorCode::InvalidInput),
        ("password123", ErrorCode::WeakPassword),
        (&format!("my name is {name}"), ErrorCode::WeakPassword),
    ] {
        let err = s
            .accounts()
            .signup(
                &format!("{name}@example.com"),
                &name,
                password.to_owned(),
                &client(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (code, Some("password")),
            "{password}"
        );
    }
});

/// The answer to "forgot password" must not tell whether the address has an
/// account, by content or by time. Interleaved medians, like the log-in test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_takes_the_same_time_for_known_and_unknown_addresses() {
    let s = common::services(Backend::Sqlite).await;
    let mut known_emails = Vec::new();
    for _ in 0..15 {
        known_emails.push(common::sign_up(&s).await.email);
    }
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for (i, email) in known_emails.iter().enumerate() {
        let stranger = format!("{}@example.com", common::unique_name());
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_known in order {
            let address = if is_known { email } else { &stranger };
            let t = std::time::Instant::now();
            s.passwords()
                .forgot_password(address, &client())
                .await
                .unwrap();
            if is_known { &mut known } else { &mut unknown }.push(t.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    println!("forgot password medians: known {k:.6} s, unknown {u:.6} s");
    // Both are sub-millisecond; allow scheduler noise, not a database trip.
    assert!(
        (k - u).abs() < 0.001 || k.max(u) / k.min(u) < 1.3,
        "known address median {k:.5}s vs unknown {u:.5}s"
    );
}
