//! One-time codes and mail, on both ephemeral stores and through a real
//! SMTP server on loopback.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{client, smtp, unique_name, Backend};
use latchkey_core::ephemeral::CodeCheck;
use latchkey_core::ErrorCode;
use latchkey_core::{AuthConfig, EphemeralStore, MemoryStore, Services};

use common::PASSWORD;

async fn store(backend: Backend) -> Arc<dyn EphemeralStore> {
    common::ephemeral(backend).await
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

async fn signed_up(s: &Services) -> (latchkey_core::Auth, String) {
    let account = common::sign_up(s).await;
    (common::auth_of(s, &account).await, account.email)
}

/// `signed_up`, with the address verified by its mailed code.
async fn verified(s: &Services, inbox: &smtp::Inbox) -> (latchkey_core::Auth, String) {
    let (auth, email) = signed_up(s).await;
    let code = smtp::code_in(&inbox.wait_for_subject(&email, "verification code").await);
    s.accounts()
        .verify_email(&auth, &code, &client())
        .await
        .unwrap();
    let auth = latchkey_core::Auth {
        user: latchkey_core::user_store::by_id(&s.db, &auth.user.id)
            .await
            .unwrap()
            .unwrap()
            .to_user(),
        ..auth
    };
    (auth, email)
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
    let user = s
        .accounts()
        .verify_email(&auth, &code, &client())
        .await
        .unwrap();
    assert!(user.email_verified);
    let row = latchkey_core::user_store::by_id(&s.db, &auth.user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.email_verified, 1);
    assert_eq!(s.outbox().outbox_depth().await.unwrap(), 0);
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

        let err = s
            .accounts()
            .verify_email(&auth, wrong, &client())
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::CodeWrong, Some("code"))
        );
        assert!(
            common::words(&err).contains("4 tries left"),
            "{}",
            common::words(&err)
        );

        let err = s
            .accounts()
            .send_verification(&auth, &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert!(err.retry_after.is_some_and(|s| s > 50 && s <= 60));

        tokio::time::sleep(Duration::from_millis(2200)).await;
        let err = s
            .accounts()
            .verify_email(&auth, &code, &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::CodeExpired);

        let err = s
            .accounts()
            .verify_email(&auth, "12a", &client())
            .await
            .unwrap_err();
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
            s.accounts()
                .verify_email(&auth, wrong, &client())
                .await
                .unwrap_err()
                .code,
            ErrorCode::CodeWrong
        );
    }
    assert_eq!(
        s.accounts()
            .verify_email(&auth, wrong, &client())
            .await
            .unwrap_err()
            .code,
        ErrorCode::CodeDead
    );
    assert_eq!(
        s.accounts()
            .verify_email(&auth, &code, &client())
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
            s.outbox().outbox_depth().await.unwrap(),
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
        assert_eq!(s.outbox().outbox_depth().await.unwrap(), 0);
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
            .accounts()
            .request_email_change(&auth, &auth.user.email, PASSWORD.into(), &client())
            .await
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("new_email"));

        s.accounts()
            .request_email_change(&auth, &new_email.to_uppercase(), PASSWORD.into(), &client())
            .await
            .unwrap();
        let code = smtp::code_in(&inbox.wait_for(&new_email, 10).await);
        let row = latchkey_core::user_store::by_id(&s.db, &auth.user.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.email, auth.user.email,
            "nothing changes before the code"
        );

        let user = s
            .accounts()
            .confirm_email_change(&auth, &new_email, &code, &client())
            .await
            .unwrap();
        assert_eq!(
            (user.email.as_str(), user.email_verified),
            (new_email.as_str(), true)
        );
        let (_, issued) = s
            .accounts()
            .login(&new_email, PASSWORD.into(), &client())
            .await
            .unwrap();
        assert!(s
            .sessions()
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
        s.accounts()
            .request_email_change(&auth, &other, PASSWORD.into(), &client())
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
            .accounts()
            .confirm_email_change(&auth, &other, &code, &client())
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::EmailTaken, None)
        );
    }
);

/// The code for a change of address, from the newest change-code mail to `to`.
async fn change_code(inbox: &smtp::Inbox, to: &str) -> String {
    smtp::code_in(&inbox.wait_for_subject(to, "change your email").await)
}

/// Whether `access_token` still opens its session.
async fn live(s: &Services, access_token: &str) -> bool {
    s.sessions()
        .authenticate(access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .is_some()
}

on_both_backends!(
    an_email_change_needs_the_password_and_a_code_asked_for_by_this_account,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (victim, _) = signed_up(&s).await;
        let target = format!("thief{}@example.com", unique_name());
        // A stolen session alone cannot start a change.
        let missing = s
            .accounts()
            .request_email_change(&victim, &target, String::new(), &client())
            .await
            .unwrap_err();
        assert_eq!(
            (missing.code, missing.field.as_deref()),
            (ErrorCode::InvalidInput, Some("password"))
        );
        let wrong = s
            .accounts()
            .request_email_change(
                &victim,
                &target,
                "not the password at all".into(),
                &client(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (wrong.code, wrong.field.as_deref()),
            (ErrorCode::InvalidCredentials, Some("password"))
        );
        assert!(
            !inbox
                .all()
                .iter()
                .any(|m| m.contains(&format!("To: {target}"))),
            "no code was mailed"
        );
        // The thief asks for a code with an account of their own, whose
        // password they know, and types it into the stolen session.
        let (thief, _) = signed_up(&s).await;
        s.accounts()
            .request_email_change(&thief, &target, PASSWORD.into(), &client())
            .await
            .unwrap();
        let code = change_code(&inbox, &target).await;
        let err = s
            .accounts()
            .confirm_email_change(&victim, &target, &code, &client())
            .await
            .unwrap_err();
        // The victim's account has no code for that address at all.
        assert_eq!(
            err.code,
            ErrorCode::CodeExpired,
            "a change code works only for its account"
        );
        let row = latchkey_core::user_store::by_id(&s.db, &victim.user.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.email, victim.user.email);
    }
);

on_both_backends!(
    an_email_change_ends_other_sessions_retires_reset_links_and_tells_the_old_address,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, old) = verified(&s, &inbox).await;
        let (_, elsewhere) = s
            .accounts()
            .login(&old, PASSWORD.into(), &client())
            .await
            .unwrap();
        s.passwords()
            .forgot_password(&old, &client())
            .await
            .unwrap();
        let reset = smtp::reset_token_in(&inbox.wait_for_subject(&old, "Reset your").await);

        let new_email = format!("moved{}@example.com", unique_name());
        s.accounts()
            .request_email_change(&auth, &new_email, PASSWORD.into(), &client())
            .await
            .unwrap();
        let code = change_code(&inbox, &new_email).await;
        s.accounts()
            .confirm_email_change(&auth, &new_email, &code, &client())
            .await
            .unwrap();

        assert!(
            live(&s, &auth_token(&s, &auth).await).await,
            "this session stays"
        );
        assert!(
            !live(&s, &elsewhere.access_token).await,
            "the other session ended"
        );
        let err = s
            .passwords()
            .reset_password(&reset, "a brand new passphrase 9z".into(), &client())
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::LinkExpired,
            "the reset link mailed to the old address died"
        );
        let notice = inbox.wait_for_subject(&old, "email address of your").await;
        assert!(notice.contains(&new_email), "{notice}");
        assert!(!smtp::revert_token_in(&notice).is_empty());
        let events = s
            .accounts()
            .own_activity(&auth.user.id, None)
            .await
            .unwrap();
        assert!(events.events.iter().any(|e| e.kind
            == latchkey_core::model::EventKind::SessionRevoked
            && e.reason == Some(latchkey_core::model::EventReason::EmailChanged)));
    }
);

on_both_backends!(
    this_wasnt_me_restores_the_address_ends_every_session_and_clears_the_password,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, old) = verified(&s, &inbox).await;
        // The intruder knows the password and moves the account twice, in
        // the same second.
        let first = format!("intruder{}@example.com", unique_name());
        s.accounts()
            .request_email_change(&auth, &first, PASSWORD.into(), &client())
            .await
            .unwrap();
        let code = change_code(&inbox, &first).await;
        let moved = s
            .accounts()
            .confirm_email_change(&auth, &first, &code, &client())
            .await
            .unwrap();
        let owners_link =
            smtp::revert_token_in(&inbox.wait_for_subject(&old, "email address of your").await);
        // While the owner can undo it, nobody may take the old address.
        let squat = s
            .accounts()
            .signup(
                &old,
                &format!("sq{}", &unique_name()[..8]),
                PASSWORD.into(),
                &client(),
            )
            .await
            .unwrap_err();
        assert_eq!(squat.code, ErrorCode::EmailTaken);
        let auth = latchkey_core::Auth {
            user: moved,
            ..auth
        };
        let second = format!("again{}@example.com", unique_name());
        s.accounts()
            .request_email_change(&auth, &second, PASSWORD.into(), &client())
            .await
            .unwrap();
        let code = change_code(&inbox, &second).await;
        s.accounts()
            .confirm_email_change(&auth, &second, &code, &client())
            .await
            .unwrap();
        let intruders_link = smtp::revert_token_in(
            &inbox
                .wait_for_subject(&first, "email address of your")
                .await,
        );
        // The intruder's own link (it was mailed to their address) cannot
        // cancel the owner's, which was made before it.
        assert_eq!(
            s.accounts()
                .revert_email_change(&intruders_link, &client())
                .await
                .unwrap()
                .email,
            first
        );

        let pending = s.accounts().check_revert_link(&owners_link).await.unwrap();
        assert_eq!(
            (pending.old_email.as_str(), pending.new_email.as_str()),
            (old.as_str(), first.as_str())
        );
        // Two clicks at once: one undoes it.
        let (c1, c2) = (client(), client());
        let accounts = s.accounts();
        let (a, b) = tokio::join!(
            accounts.revert_email_change(&owners_link, &c1),
            accounts.revert_email_change(&owners_link, &c2)
        );
        assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
        assert_eq!(a.or(b).unwrap().email, old);

        let row = latchkey_core::user_store::by_id(&s.db, &auth.user.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                row.email.as_str(),
                row.email_verified,
                row.password_hash.as_str()
            ),
            (old.as_str(), 1, "")
        );
        assert!(
            !live(&s, &auth_token(&s, &auth).await).await,
            "every session ended"
        );
        let err = s
            .accounts()
            .login(&old, PASSWORD.into(), &client())
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::InvalidCredentials,
            "the intruder's password is gone"
        );
        let used = s
            .accounts()
            .revert_email_change(&owners_link, &client())
            .await
            .unwrap_err();
        assert_eq!(used.code, ErrorCode::LinkExpired);
        // The owner gets back in with a code to the restored address.
        inbox.wait_for_subject(&old, "was undone").await;
        s.accounts()
            .request_signin_code(&old, &client())
            .await
            .unwrap();
        let code = smtp::code_in(&inbox.wait_for_subject(&old, "sign-in code").await);
        let (user, _) = s
            .accounts()
            .signin_with_code(&old, &code, &client())
            .await
            .unwrap();
        assert_eq!(user.email, old);
        assert!(!user.has_password);
        let bad = s
            .accounts()
            .revert_email_change("not-a-token", &client())
            .await
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::LinkInvalid);
    }
);

// An address never proven may be a squatter's borrowing of someone
// else's: moving away from it gives it no undo link, and reserves nothing.
on_both_backends!(
    moving_away_from_an_unverified_address_leaves_it_free,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, borrowed) = signed_up(&s).await;
        let new_email = format!("mine{}@example.com", unique_name());
        s.accounts()
            .request_email_change(&auth, &new_email, PASSWORD.into(), &client())
            .await
            .unwrap();
        let code = change_code(&inbox, &new_email).await;
        s.accounts()
            .confirm_email_change(&auth, &new_email, &code, &client())
            .await
            .unwrap();
        // Its owner can sign up with it at once; no notice went there.
        common::sign_up_as(&s, &borrowed).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !inbox
                .all()
                .iter()
                .any(|m| m.contains(&format!("To: {borrowed}"))
                    && m.contains("email address of your"))
        );
    }
);

on_both_backends!(
    an_account_without_a_password_changes_its_email_only_soon_after_signing_in,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        // A squatter's account, claimed by its owner with a code: no password.
        let (_, email) = signed_up(&s).await;
        s.accounts()
            .request_signin_code(&email, &client())
            .await
            .unwrap();
        let code = smtp::code_in(&inbox.wait_for_subject(&email, "sign-in code").await);
        let (user, issued) = s
            .accounts()
            .signin_with_code(&email, &code, &client())
            .await
            .unwrap();
        assert!(!user.has_password);
        let auth = s
            .sessions()
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .unwrap();
        let new_email = format!("fresh{}@example.com", unique_name());
        s.accounts()
            .request_email_change(&auth, &new_email, String::new(), &client())
            .await
            .unwrap();
        // The same session an hour later must sign in again first.
        sqlx::query("UPDATE sessions SET created_at = created_at - 3600 WHERE id = $1")
            .bind(&auth.session_id)
            .execute(&s.db.pool)
            .await
            .unwrap();
        let later = format!("later{}@example.com", unique_name());
        let err = s
            .accounts()
            .request_email_change(&auth, &later, String::new(), &client())
            .await
            .unwrap_err();
        assert_eq!((err.code, err.count), (ErrorCode::ReauthRequired, Some(10)));
    }
);

/// A fresh access token for the session `auth` came from.
async fn auth_token(s: &Services, auth: &latchkey_core::Auth) -> String {
    let now = latchkey_core::now();
    s.access_tokens
        .issue(&auth.user.id, &auth.session_id, auth.user.role, now)
        .await
        .unwrap()
        .0
}

on_both_backends!(
    sign_in_by_code_and_no_hint_about_unknown_addresses,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
        let (auth, email) = signed_up(&s).await;
        s.accounts()
            .request_signin_code(&email, &client())
            .await
            .unwrap();
        let code = loop {
            let mail = inbox.wait_for(&email, 10).await;
            if mail.contains("sign-in code") {
                break smtp::code_in(&mail);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (user, issued) = s
            .accounts()
            .signin_with_code(&email, &code, &client())
            .await
            .unwrap();
        assert_eq!(user.id, auth.user.id);
        assert!(user.email_verified, "the code proves the address");
        assert!(s
            .sessions()
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some());
        let again = s
            .accounts()
            .signin_with_code(&email, &code, &client())
            .await
            .unwrap_err();
        assert_eq!(again.code, ErrorCode::CodeExpired, "single use");

        // An unknown address gets the same answer, the same cooldown, the
        // same wrong-code answer (its decoy code), and no mail.
        let nobody = format!("{}@example.com", unique_name());
        s.accounts()
            .request_signin_code(&nobody, &client())
            .await
            .unwrap();
        let second = s
            .accounts()
            .request_signin_code(&nobody, &client())
            .await
            .unwrap_err();
        assert_eq!(second.code, ErrorCode::RateLimited);
        let err = s
            .accounts()
            .signin_with_code(&nobody, "123456", &client())
            .await
            .unwrap_err();
        assert_eq!((err.code, err.count), (ErrorCode::CodeWrong, Some(4)));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(inbox.all().iter().all(|m| !m.contains(&nobody)));
    }
);

// Pre-account hijack: a squatter signs up with the victim's address and a
// password they keep. When the owner proves the address by a sign-in code,
// the squatter's sessions end and their password no longer opens the
// account; it is logged.
on_both_backends!(the_first_proof_of_an_address_evicts_a_squatter, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let squatter = common::sign_up(&s).await;
    inbox.wait_for(&squatter.email, 10).await;

    // The owner, who never knew of the account, signs in by code.
    s.accounts()
        .request_signin_code(&squatter.email, &client())
        .await
        .unwrap();
    let code = smtp::code_in(
        &inbox
            .wait_for_subject(&squatter.email, "sign-in code")
            .await,
    );
    let (owner, issued) = s
        .accounts()
        .signin_with_code(&squatter.email, &code, &client())
        .await
        .unwrap();
    assert!(owner.email_verified);

    assert!(
        s.sessions()
            .authenticate(&squatter.issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_none(),
        "the squatter's session ended"
    );
    assert!(s
        .sessions()
        .refresh(&squatter.issued.refresh_token, &common::NO_CLIENT)
        .await
        .is_err());
    let err = s
        .accounts()
        .login(&squatter.email, PASSWORD.into(), &client())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials, "password cleared");
    assert!(
        s.sessions()
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some(),
        "the owner's own session lives"
    );
    let events = s
        .accounts()
        .own_activity(&owner.id, None)
        .await
        .unwrap()
        .events;
    assert!(events
        .iter()
        .any(|e| e.kind == latchkey_core::model::EventKind::EmailVerified
            && e.reason == Some(latchkey_core::model::EventReason::PasswordCleared)));
    assert!(events.iter().any(
        |e| e.kind == latchkey_core::model::EventKind::SessionRevoked
            && e.reason == Some(latchkey_core::model::EventReason::AddressProven)
            && e.detail.as_deref() == Some("1")
    ));
});

// The owner who signed up and verifies with the code keeps the password,
// and only their other sessions end.
on_both_backends!(verifying_keeps_the_password_and_this_session, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let account = common::sign_up(&s).await;
    let code = smtp::code_in(&inbox.wait_for(&account.email, 10).await);
    let (_, elsewhere) = s
        .accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let auth = common::auth_of(&s, &account).await;
    s.accounts()
        .verify_email(&auth, &code, &client())
        .await
        .unwrap();
    assert!(
        s.sessions()
            .authenticate(&account.issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some(),
        "the session that verified lives"
    );
    assert!(
        s.sessions()
            .authenticate(&elsewhere.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_none(),
        "another session, perhaps not the owner's, ended"
    );
    s.accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .expect("the password still works");
});

/// What an answer tells a stranger: its code, reason, number and field.
fn answer<T>(result: Result<T, latchkey_core::Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => format!(
            "{:?} {:?} {:?} {:?}",
            e.code,
            e.reason,
            e.count.filter(|_| e.code != ErrorCode::RateLimited),
            e.field
        ),
    }
}

// Sign-in by code answers alike at every step for an address with an
// account and one without: the request, a repeat within the cooldown,
// wrong codes with the same tries left, the dead code and after it.
on_both_backends!(signin_codes_answer_alike_for_unknown_addresses, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let known = common::sign_up(&s).await.email;
    let unknown = format!("{}@example.com", unique_name());
    let mut transcripts = Vec::new();
    for email in [&known, &unknown] {
        let c = client();
        let mut seen = vec![
            answer(s.accounts().request_signin_code(email, &c).await),
            answer(s.accounts().request_signin_code(email, &c).await),
        ];
        for _ in 0..6 {
            // A fixed wrong guess: one in a million is the decoy itself.
            seen.push(answer(
                s.accounts().signin_with_code(email, "999999", &c).await,
            ));
        }
        transcripts.push(seen);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    assert!(
        transcripts[0][2].contains("CodeWrong"),
        "{:?}",
        transcripts[0]
    );
    assert!(
        transcripts[0][6].contains("CodeDead"),
        "{:?}",
        transcripts[0]
    );
    inbox.wait_for_subject(&known, "sign-in code").await;
    assert!(
        !inbox.all().iter().any(|m| m.contains(&unknown)),
        "the decoy is never mailed"
    );
});

// The answer to a sign-in code request takes the same time for both: the
// owner's mail is queued after it (medians of interleaved runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_code_requests_take_the_same_time_for_unknown_addresses() {
    let s = common::services(Backend::Postgres).await;
    let mut known_addresses = Vec::new();
    for _ in 0..15 {
        known_addresses.push(common::sign_up(&s).await.email);
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for (i, address) in known_addresses.iter().enumerate() {
        let stranger = format!("{}@example.com", unique_name());
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_known in order {
            let email = if is_known { address } else { &stranger };
            let t = std::time::Instant::now();
            s.accounts()
                .request_signin_code(email, &client())
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
    assert!(
        k.max(u) / k.min(u) < 1.5 || (k - u).abs() < 0.002,
        "known {k:.5}s vs unknown {u:.5}s"
    );
}

// Wrong codes are counted per address across codes: past the allowance a
// new code does not reset anything, code sign-in pauses with a clear
// message, the owner gets one mail, and it is logged.
on_both_backends!(guessing_across_codes_pauses_the_address, |backend| {
    let mut config = AuthConfig::for_tests();
    config.codes.guesses_per_window = 7;
    config.codes.guess_window = Duration::from_secs(3);
    config.codes.resend_cooldown = Duration::from_millis(10);
    let (s, inbox) = common::services_with_smtp(backend, config).await;
    let account = common::sign_up(&s).await;
    let mut codes = Vec::new();
    for round in 0..2 {
        s.accounts()
            .request_signin_code(&account.email, &client())
            .await
            .unwrap();
        for _ in 0..5 {
            let err = s
                .accounts()
                .signin_with_code(&account.email, "999999", &client())
                .await
                .unwrap_err();
            codes.push(err.code);
            if round == 1 && err.code == ErrorCode::RateLimited {
                assert_eq!(err.reason, Some(latchkey_core::Reason::CodeGuessing));
                assert!(
                    common::words(&err).contains("paused"),
                    "{}",
                    common::words(&err)
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Five on the first code, two on the second, then refused.
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == ErrorCode::RateLimited)
            .count(),
        3,
        "{codes:?}"
    );
    // Even the right code is refused while paused.
    let since = inbox.all().len();
    s.accounts()
        .request_signin_code(&account.email, &client())
        .await
        .unwrap();
    let code = smtp::code_in(
        &inbox
            .wait_for_subject_since(&account.email, "sign-in code", since)
            .await,
    );
    let err = s
        .accounts()
        .signin_with_code(&account.email, &code, &client())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited);
    inbox
        .wait_for_subject(&account.email, "guessing codes")
        .await;
    let events = s
        .accounts()
        .own_activity(&account.user.id, None)
        .await
        .unwrap()
        .events;
    assert!(events
        .iter()
        .any(|e| e.reason == Some(latchkey_core::model::EventReason::Guessing)));
    // The window ends and codes work again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let since = inbox.all().len();
    s.accounts()
        .request_signin_code(&account.email, &client())
        .await
        .unwrap();
    let code = smtp::code_in(
        &inbox
            .wait_for_subject_since(&account.email, "sign-in code", since)
            .await,
    );
    s.accounts()
        .signin_with_code(&account.email, &code, &client())
        .await
        .expect("codes work again after the window");
});

// Mail that ended (sent or given up) longer ago than the overview counts
// is pruned; newer ended mail, and mail still waiting however old, stays.
on_both_backends!(the_outbox_prunes_only_mail_that_ended_long_ago, |backend| {
    let s = common::services(backend).await;
    let day = 24 * 3600;
    let now = latchkey_core::now();
    let old = now - latchkey_core::outbox::KEEP.as_secs() as i64 - day;
    let recent = now - 20 * day;
    let tag = unique_name();
    // (name, sent_at, failed_at, created_at)
    let rows = [
        ("sent-old", Some(old), None, old),
        ("failed-old", None, Some(old), old),
        ("sent-recent", Some(recent), None, old),
        ("failed-recent", None, Some(recent), old),
        ("waiting-old", None, None, old),
        // A minute inside the window: kept.
        ("sent-edge", Some(old + day + 60), None, old),
    ];
    for (name, sent_at, failed_at, created_at) in rows {
        sqlx::query(
            "INSERT INTO outbox (id, recipient, subject, body_text, body_html, attempts, \
             next_attempt_at, locked_until, sent_at, failed_at, created_at) \
             VALUES ($1, 'a@example.com', '', '', '', 1, $2, $2, $3, $4, $5)",
        )
        .bind(format!("{tag}-{name}"))
        // Claimed far ahead: no worker sends the waiting one meanwhile.
        .bind(now + 3600)
        .bind(sent_at)
        .bind(failed_at)
        .bind(created_at)
        .execute(&s.db.pool)
        .await
        .unwrap();
    }
    // More than one batch of old sent mail.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
         INSERT INTO outbox (id, recipient, subject, body_text, body_html, attempts, \
         next_attempt_at, sent_at, created_at) \
         SELECT $1 || i, 'a@example.com', '', '', '', 1, $2, $2, $2 FROM n",
    )
    .bind(format!("{tag}-bulk-"))
    .bind(old)
    .execute(&s.db.pool)
    .await
    .unwrap();
    assert_eq!(s.outbox().prune().await.unwrap(), 2 + 2500);
    let left: Vec<(String,)> = sqlx::query_as("SELECT id FROM outbox WHERE id LIKE $1 ORDER BY id")
        .bind(format!("{tag}-%"))
        .fetch_all(&s.db.pool)
        .await
        .unwrap();
    let left: Vec<_> = left
        .into_iter()
        .map(|(id,)| id.trim_start_matches(&format!("{tag}-")).to_owned())
        .collect();
    assert_eq!(
        left,
        ["failed-recent", "sent-edge", "sent-recent", "waiting-old"]
    );
    assert_eq!(
        s.outbox().outbox_depth().await.unwrap(),
        1,
        "the waiting one"
    );
});

// The outbox stops retrying after its bounded time: the mail is marked
// failed, blanked (its code leaves the database), logged for the admins
// and no longer counted as waiting.
on_both_backends!(undeliverable_mail_is_given_up_and_blanked, |backend| {
    // Reserve a port, then close it: SMTP is down for good.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = AuthConfig::for_tests();
    config.mail_give_up_after = Duration::from_secs(1);
    let s = common::services_with(backend, config).await;
    common::start_outbox(&s, port);
    let (_, email) = signed_up(&s).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while s.outbox().outbox_depth().await.unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "given up in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (subject, text, html, failed): (String, String, String, Option<i64>) = sqlx::query_as(
        "SELECT subject, body_text, body_html, failed_at FROM outbox WHERE recipient = $1",
    )
    .bind(&email)
    .fetch_one(&s.db.pool)
    .await
    .unwrap();
    assert!(failed.is_some());
    assert_eq!(
        (subject.as_str(), text.as_str(), html.as_str()),
        ("", "", "")
    );
    let events = s
        .admin()
        .activity(&latchkey_core::audit::ActivityFilter::default())
        .await
        .unwrap()
        .events;
    assert!(events
        .iter()
        .any(|e| e.kind == latchkey_core::model::EventKind::MailFailed
            && e.detail.as_deref() == Some(email.as_str())));
});

fn hiding() -> AuthConfig {
    AuthConfig {
        signup_hide_existing: true,
        ..AuthConfig::for_tests()
    }
}

/// A pending sign-up's answer, or the error as a stranger reads it.
fn pending(
    result: Result<latchkey_core::quiet_signup::SignUp, latchkey_core::Error>,
) -> Result<latchkey_core::quiet_signup::PendingSignup, String> {
    match result {
        Ok(latchkey_core::quiet_signup::SignUp::Pending(p)) => Ok(p),
        Ok(latchkey_core::quiet_signup::SignUp::Started(..)) => Err("a session".into()),
        Err(e) => Err(answer::<()>(Err(e))),
    }
}

// SIGNUP_HIDE_EXISTING: a taken address answers like a free one at every
// step (the sign-up, a repeat in the cooldown, wrong codes, the dead code),
// the owner is told by mail, and only the free address's code, with its
// own sign-up's token, finishes it.
on_both_backends!(
    hidden_signup_answers_alike_for_taken_and_free_addresses,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, hiding()).await;
        let taken = common::sign_up(&s).await.email;
        let free = format!("{}@example.com", unique_name());
        let mut transcripts = Vec::new();
        for email in [&taken, &free] {
            let c = client();
            let first = pending(
                s.accounts()
                    .sign_up(email, &unique_name(), PASSWORD.into(), &c)
                    .await,
            )
            .expect("no session, no error, either way");
            assert_eq!(first.token.len(), 43);
            let mut seen = vec![
                first.email == *email,
                // Again within the cooldown, under another username.
                pending(
                    s.accounts()
                        .sign_up(email, &unique_name(), PASSWORD.into(), &c)
                        .await,
                )
                .is_err_and(|e| e.contains("CodeCooldown")),
            ]
            .into_iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>();
            for _ in 0..6 {
                seen.push(answer(
                    s.accounts()
                        .finish_signup(email, "999999", &first.token, &c)
                        .await,
                ));
            }
            transcripts.push(seen);
        }
        assert_eq!(transcripts[0], transcripts[1]);
        assert_eq!(&transcripts[0][..2], ["true", "true"]);
        assert!(
            transcripts[0][2].contains("CodeWrong"),
            "{:?}",
            transcripts[0]
        );
        assert!(
            transcripts[0][7].contains("CodeDead") || transcripts[0][7].contains("CodeExpired")
        );
        // The owner of the taken address is told; the free one got its code.
        let note = inbox
            .wait_for_subject(&taken, "already have a Latchkey account")
            .await;
        assert!(note.contains("/forgot"), "{note}");
        inbox.wait_for_subject(&free, "finish signing up").await;
        // Nothing exists until the code comes back: the password chosen
        // for the free address opens nothing, and its username is free.
        let err = s
            .accounts()
            .login(&free, PASSWORD.into(), &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidCredentials);
        let probe = unique_name();
        pending(
            s.accounts()
                .sign_up(&free, &probe, PASSWORD.into(), &client())
                .await,
        )
        .unwrap_err();
        let other = format!("{}@example.com", unique_name());
        pending(
            s.accounts()
                .sign_up(&other, &probe, PASSWORD.into(), &client())
                .await,
        )
        .expect("the username of a pending sign-up is not taken");
        // A taken username is still named: it says nothing about the email.
        let (_, known) = signed_up(&s).await;
        let name_of_known = latchkey_core::user_store::by_login(&s.db, &known)
            .await
            .unwrap()
            .unwrap()
            .username;
        for email in [taken.clone(), format!("{}@example.com", unique_name())] {
            let err = pending(
                s.accounts()
                    .sign_up(&email, &name_of_known, PASSWORD.into(), &client())
                    .await,
            )
            .unwrap_err();
            assert!(err.contains("UsernameTaken"), "{email}: {err}");
        }
    }
);

on_both_backends!(
    a_hidden_signup_finishes_only_with_its_code_and_its_token,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, hiding()).await;
        let email = format!("{}@example.com", unique_name());
        let name = &unique_name();
        let mine = pending(
            s.accounts()
                .sign_up(&email, name, PASSWORD.into(), &client())
                .await,
        )
        .unwrap();
        let code = smtp::code_in(&inbox.wait_for_subject(&email, "finish signing up").await);
        // Whoever reads the mailbox but did not sign up has no token.
        let stranger = random_like_token();
        let err = s
            .accounts()
            .finish_signup(&email, &code, &stranger, &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::CodeWrong);
        let err = s
            .accounts()
            .finish_signup(&email, &code, "garbage", &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::CodeWrong);
        let (user, issued) = s
            .accounts()
            .finish_signup(&email, &code, &mine.token, &client())
            .await
            .unwrap();
        assert!(user.email_verified && user.has_password);
        assert!(live(&s, &issued.access_token).await);
        // The password chosen at sign-up still opens it.
        s.accounts()
            .login(&email, PASSWORD.into(), &client())
            .await
            .unwrap();
        let again = s
            .accounts()
            .finish_signup(&email, &code, &mine.token, &client())
            .await
            .unwrap_err();
        assert_eq!(again.code, ErrorCode::CodeExpired);
    }
);

fn random_like_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(uuid::Uuid::new_v4().as_bytes().repeat(2))
}

// The answer to a hidden sign-up takes the same time for taken and free
// addresses (both hash; mail goes after the answer): medians.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_signups_take_the_same_time_for_taken_addresses() {
    let s = common::services_with(Backend::Postgres, hiding()).await;
    let mut taken_addresses = Vec::new();
    for _ in 0..15 {
        let email = format!("{}@example.com", unique_name());
        s.accounts()
            .signup(&email, &unique_name(), PASSWORD.into(), &client())
            .await
            .unwrap();
        taken_addresses.push(email);
    }
    let (mut taken, mut free) = (Vec::new(), Vec::new());
    for (i, address) in taken_addresses.iter().enumerate() {
        let fresh = format!("{}@example.com", unique_name());
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_taken in order {
            let email = if is_taken { address } else { &fresh };
            let t = std::time::Instant::now();
            pending(
                s.accounts()
                    .sign_up(email, &unique_name(), PASSWORD.into(), &client())
                    .await,
            )
            .unwrap();
            if is_taken { &mut taken } else { &mut free }.push(t.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (t, f) = (median(&mut taken), median(&mut free));
    assert!(
        t.max(f) / t.min(f) < 1.5 || (t - f).abs() < 0.003,
        "taken {t:.5}s vs free {f:.5}s"
    );
}

// An intruder who knows the password moves the address and adds an app of
// their own: undoing the change from the old mailbox takes the app away too.
on_both_backends!(undoing_a_change_removes_an_app_added_since, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let (auth, old) = verified(&s, &inbox).await;
    let moved_to = format!("intruder{}@example.com", unique_name());
    s.accounts()
        .request_email_change(&auth, &moved_to, PASSWORD.into(), &client())
        .await
        .unwrap();
    let code = change_code(&inbox, &moved_to).await;
    s.accounts()
        .confirm_email_change(&auth, &moved_to, &code, &client())
        .await
        .unwrap();
    let setup = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    s.second_factors()
        .confirm_authenticator(
            &auth,
            &common::authenticator_code(&setup.secret, "now"),
            &client(),
        )
        .await
        .unwrap();
    let owners_link =
        smtp::revert_token_in(&inbox.wait_for_subject(&old, "email address of your").await);
    s.accounts()
        .revert_email_change(&owners_link, &client())
        .await
        .unwrap();
    let status = s.second_factors().status(&auth).await.unwrap();
    assert_eq!(
        status.authenticator_since, None,
        "the intruder's app is gone"
    );
    // The owner signs in by a code to the restored address, no app asked.
    s.accounts()
        .request_signin_code(&old, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&old, "sign-in code").await;
    s.accounts()
        .signin_with_code(&old, &smtp::code_in(&mail), &client())
        .await
        .expect("the owner is back in");
});
