//! The account and session services against real SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{services, services_with, unique_name};
use latchkey_core::model::EventKind;
use latchkey_core::sessions::Issued;
use latchkey_core::ErrorCode;
use latchkey_core::{AuthConfig, ClientInfo, Services};

use common::PASSWORD;

fn client() -> ClientInfo {
    common::client_at("127.0.0.1")
}

on_both_backends!(signup_creates_a_signed_in_user, |backend| {
    let s = services(backend).await;
    let name = unique_name();
    let (user, issued) = s
        .accounts()
        .signup(
            &format!("  {name}@Example.COM "),
            &name,
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(user.email, format!("{name}@example.com"));
    assert!(!user.email_verified);
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .expect("token works");
    assert_eq!(auth.user.id, user.id);
    assert_eq!(auth.session_id, issued.session_id);
    let row = latchkey_core::user_store::by_id(&s.db, &user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(row
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
});

on_both_backends!(duplicates_are_field_errors, |backend| {
    let s = services(backend).await;
    let name = unique_name();
    s.accounts()
        .signup(
            &format!("{name}@example.com"),
            &name,
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap();

    let err = s
        .accounts()
        .signup(
            &format!("{}@EXAMPLE.com", name.to_uppercase()),
            &unique_name(),
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::EmailTaken, Some("email"))
    );

    let err = s
        .accounts()
        .signup(
            &format!("other{name}@example.com"),
            &name.to_uppercase(),
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::UsernameTaken, Some("username"))
    );

    // Both taken, by two different accounts: always the email's answer,
    // whichever unique index the database checks first.
    let other = common::sign_up(&s).await;
    for _ in 0..3 {
        let err = s
            .accounts()
            .signup(
                &format!("{name}@example.com"),
                &other.name,
                PASSWORD.into(),
                &client(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::EmailTaken, Some("email"))
        );
    }
});

on_both_backends!(
    concurrent_signups_with_one_email_make_one_account,
    |backend| {
        let s = services(backend).await;
        let email = format!("{}@example.com", unique_name());
        let attempts = (0..100).map(|_| {
            let (s, email) = (s.clone(), email.clone());
            tokio::spawn(async move {
                s.accounts()
                    .signup(&email, &unique_name(), PASSWORD.into(), &client())
                    .await
            })
        });
        let results = futures::future::join_all(attempts).await;
        let ok = results
            .iter()
            .filter(|r| r.as_ref().unwrap().is_ok())
            .count();
        let taken = results
            .iter()
            .filter(|r| matches!(r.as_ref().unwrap(), Err(e) if e.code == ErrorCode::EmailTaken))
            .count();
        assert_eq!((ok, taken), (1, 99));
        assert_eq!(latchkey_core::user_store::count(&s.db).await.unwrap(), 1);
        // Nothing half-made by the 99 that lost: one session, one sign-up event.
        for (table, expected) in [("sessions", 1), ("audit_events WHERE kind = 'sign_up'", 1)] {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&s.db.pool)
                .await
                .unwrap();
            assert_eq!(n, expected, "{table}");
        }
    }
);

on_both_backends!(bad_input_is_refused_with_field_errors, |backend| {
    let s = services(backend).await;
    let cases = [
        (
            "not-an-email",
            "gooduser",
            PASSWORD,
            "email",
            ErrorCode::InvalidInput,
        ),
        (
            "a@example.com",
            "x",
            PASSWORD,
            "username",
            ErrorCode::InvalidInput,
        ),
        (
            "a@example.com",
            "gooduser",
            "short",
            "password",
            ErrorCode::InvalidInput,
        ),
        (
            "a@example.com",
            "gooduser",
            "gooduser-password",
            "password",
            ErrorCode::WeakPassword,
        ),
    ];
    for (email, username, password, field, code) in cases {
        let err = s
            .accounts()
            .signup(email, username, password.into(), &client())
            .await
            .unwrap_err();
        assert_eq!(err.code, code, "{email} {username} {password}");
        assert_eq!(err.field.as_deref(), Some(field));
    }
    assert_eq!(latchkey_core::user_store::count(&s.db).await.unwrap(), 0);
});

on_both_backends!(
    login_by_email_or_username_and_same_answer_for_unknown,
    |backend| {
        let s = services(backend).await;
        let name = unique_name();
        let email = format!("{name}@example.com");
        s.accounts()
            .signup(&email, &name, PASSWORD.into(), &client())
            .await
            .unwrap();

        for login in [email.to_uppercase(), name.clone()] {
            let (user, issued) = s
                .accounts()
                .login(&login, PASSWORD.into(), &client())
                .await
                .unwrap();
            assert_eq!(user.username, name);
            assert!(s
                .sessions()
                .authenticate(&issued.access_token, &common::NO_CLIENT)
                .await
                .unwrap()
                .is_some());
        }
        let wrong = s
            .accounts()
            .login(&name, "wrong password!".into(), &client())
            .await
            .unwrap_err();
        let unknown = s
            .accounts()
            .login("nobody-here", PASSWORD.into(), &client())
            .await
            .unwrap_err();
        assert_eq!(wrong, unknown, "no difference between unknown and wrong");
        assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
    }
);

on_both_backends!(
    disabled_users_are_refused_only_after_a_correct_password,
    |backend| {
        let s = services(backend).await;
        let common::NewAccount {
            name, user, issued, ..
        } = common::sign_up(&s).await;
        latchkey_core::user_store::set_disabled(&s.db, &user.id, true, latchkey_core::now())
            .await
            .unwrap();

        assert!(
            s.sessions()
                .authenticate(&issued.access_token, &common::NO_CLIENT)
                .await
                .unwrap()
                .is_none(),
            "live token refused"
        );
        assert!(
            s.sessions()
                .refresh(&issued.refresh_token, &common::NO_CLIENT)
                .await
                .is_err(),
            "refresh refused"
        );
        let wrong = s
            .accounts()
            .login(&name, "wrong password!".into(), &client())
            .await
            .unwrap_err();
        assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
        let right = s
            .accounts()
            .login(&name, PASSWORD.into(), &client())
            .await
            .unwrap_err();
        assert_eq!(right.code, ErrorCode::AccountDisabled);
    }
);

on_both_backends!(
    refresh_rotates_and_reuse_within_grace_gets_the_same_successor,
    |backend| {
        let s = services(backend).await;
        let common::NewAccount {
            name,
            issued: first,
            ..
        } = common::sign_up(&s).await;
        let (second, auth) = s
            .sessions()
            .refresh(&first.refresh_token, &common::NO_CLIENT)
            .await
            .unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(second.session_id, first.session_id);
        assert_eq!(auth.user.username, name);
        // A racing tab presents the old token again: same successor, no revocation.
        let (again, _) = s
            .sessions()
            .refresh(&first.refresh_token, &common::NO_CLIENT)
            .await
            .unwrap();
        assert_eq!(again.refresh_token, second.refresh_token);
        let (third, _) = s
            .sessions()
            .refresh(&second.refresh_token, &common::NO_CLIENT)
            .await
            .unwrap();
        assert!(s
            .sessions()
            .authenticate(&third.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some());
    }
);

on_both_backends!(
    concurrent_refreshes_of_one_token_yield_one_successor,
    |backend| {
        let s = services(backend).await;
        let common::NewAccount { issued: first, .. } = common::sign_up(&s).await;
        let racers = (0..10).map(|_| {
            let (s, token) = (s.clone(), first.refresh_token.clone());
            tokio::spawn(async move { s.sessions().refresh(&token, &common::NO_CLIENT).await })
        });
        let tokens: std::collections::HashSet<String> = futures::future::join_all(racers)
            .await
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .expect("a race inside the grace window is not theft")
                    .0
                    .refresh_token
            })
            .collect();
        assert_eq!(tokens.len(), 1, "never a second live branch");
    }
);

/// A session refreshed once with no grace window, then left past it: its
/// first refresh token can now only be a replay. Returns the first and the
/// second (live) tokens.
async fn rotated_past_grace(backend: common::Backend) -> (Services, Issued, Issued) {
    let config = AuthConfig {
        refresh_grace: Duration::ZERO,
        ..AuthConfig::for_tests()
    };
    let s = services_with(backend, config).await;
    let common::NewAccount { issued: first, .. } = common::sign_up(&s).await;
    let (second, _) = s
        .sessions()
        .refresh(&first.refresh_token, &common::NO_CLIENT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    (s, first, second)
}

/// Neither token of `issued` works any more.
async fn assert_revoked(s: &Services, issued: &Issued, why: &str) {
    assert!(
        s.sessions()
            .refresh(&issued.refresh_token, &common::NO_CLIENT)
            .await
            .is_err(),
        "{why}"
    );
    assert!(s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .is_none());
}

on_both_backends!(
    concurrent_reuse_after_grace_revokes_and_no_successor_survives,
    |backend| {
        let (s, first, second) = super::rotated_past_grace(backend).await;
        // A thief and the owner replay the old token ten times at once.
        let racers = (0..10).map(|_| {
            let (s, token) = (s.clone(), first.refresh_token.clone());
            tokio::spawn(async move { s.sessions().refresh(&token, &common::NO_CLIENT).await })
        });
        for result in futures::future::join_all(racers).await {
            assert_eq!(result.unwrap().unwrap_err().code, ErrorCode::Unauthorized);
        }
        super::assert_revoked(&s, &second, "the whole family is revoked").await;
    }
);

on_both_backends!(reuse_after_grace_revokes_the_whole_session, |backend| {
    let (s, first, second) = super::rotated_past_grace(backend).await;
    let err = s
        .sessions()
        .refresh(&first.refresh_token, &common::NO_CLIENT)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    super::assert_revoked(&s, &second, "the thief's branch is dead too").await;
});

on_both_backends!(logout_revokes_the_session_at_once, |backend| {
    let s = services(backend).await;
    let common::NewAccount { name, issued, .. } = common::sign_up(&s).await;
    let (_, other) = s
        .accounts()
        .login(&name, PASSWORD.into(), &client())
        .await
        .unwrap();
    s.sessions()
        .revoke_session(&issued.session_id, "logout")
        .await
        .unwrap();
    assert!(s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .sessions()
        .refresh(&issued.refresh_token, &common::NO_CLIENT)
        .await
        .is_err());
    assert!(
        s.sessions()
            .authenticate(&other.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .is_some(),
        "other device unaffected"
    );
});

// What a password log-in writes (on PostgreSQL in one statement): a
// session that works, its refresh token, and its activity entry with where
// it came from, after the entries before it.
on_both_backends!(
    a_log_in_writes_its_session_refresh_token_and_activity_entry,
    |backend| {
        let s = services(backend).await;
        let common::NewAccount { name, user, .. } = common::sign_up(&s).await;
        let phone = ClientInfo {
            ip: Some("203.0.113.7".into()),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36"
                    .into(),
            ),
            ..client()
        };
        let (_, issued) = s
            .accounts()
            .login(&name, PASSWORD.into(), &phone)
            .await
            .unwrap();

        let auth = s
            .sessions()
            .authenticate(&issued.access_token, &phone)
            .await
            .unwrap()
            .expect("the access token works");
        let sessions = s.sessions().list_sessions(&auth).await.unwrap();
        assert_eq!(sessions.len(), 2, "the sign-up's and the log-in's");
        let opened = sessions.iter().find(|x| x.id == issued.session_id).unwrap();
        assert_eq!(opened.ip.as_deref(), Some("203.0.113.7"));
        assert!(opened
            .device
            .as_deref()
            .is_some_and(|d| d.contains("Chrome")));
        assert_eq!(opened.expires_at, issued.refresh_expires_at);

        let log = s.accounts().own_activity(&user.id, None).await.unwrap();
        let kinds: Vec<_> = log.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::LoginSucceeded,
                EventKind::CodeSent,
                EventKind::SignUp
            ],
            "newest first, ordered by id"
        );
        let login = &log.events[0];
        assert_eq!(login.detail.as_deref(), Some("password"));
        assert_eq!(login.ip.as_deref(), Some("203.0.113.7"));
        assert!(login
            .device
            .as_deref()
            .is_some_and(|d| d.contains("Chrome")));

        let (rotated, _) = s
            .sessions()
            .refresh(&issued.refresh_token, &phone)
            .await
            .unwrap();
        assert_eq!(rotated.session_id, issued.session_id);
    }
);

on_both_backends!(old_hashes_are_upgraded_on_login, |backend| {
    let weak = AuthConfig {
        hash_params: latchkey_core::config::HashParams {
            m_cost: 1024,
            t_cost: 1,
            p_cost: 1,
        },
        ..AuthConfig::for_tests()
    };
    let old = services_with(backend, weak).await;
    let name = unique_name();
    let (user, _) = old
        .accounts()
        .signup(
            &format!("{name}@example.com"),
            &name,
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap();
    let current = latchkey_core::Services::new(
        old.db.clone(),
        old.ephemeral.clone(),
        AuthConfig::for_tests(),
        common::letters(),
    );
    current
        .accounts()
        .login(&name, PASSWORD.into(), &client())
        .await
        .unwrap();
    let row = latchkey_core::user_store::by_id(&current.db, &user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(row
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
});

on_both_backends!(username_changes_respect_uniqueness, |backend| {
    let s = services(backend).await;
    let (a, b) = (unique_name(), unique_name());
    s.accounts()
        .signup(&format!("{a}@example.com"), &a, PASSWORD.into(), &client())
        .await
        .unwrap();
    let (_, issued) = s
        .accounts()
        .signup(&format!("{b}@example.com"), &b, PASSWORD.into(), &client())
        .await
        .unwrap();
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    let err = s.accounts().update_username(&auth, &a).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::UsernameTaken);
    let renamed = format!("{b}x");
    assert_eq!(
        s.accounts()
            .update_username(&auth, &renamed)
            .await
            .unwrap()
            .username,
        renamed
    );
    let again = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.user.username, renamed);
});

/// Unknown account and wrong password must cost the same: both verify one
/// argon2id hash. Medians of interleaved runs, so load hits both alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_account_and_wrong_password_take_the_same_time() {
    // Throttling would answer the later tries without hashing.
    let mut config = AuthConfig::for_tests();
    config.login_free_failures = (1000, 1000);
    let s = services_with(common::Backend::Sqlite, config).await;
    let name = unique_name();
    s.accounts()
        .signup(
            &format!("{name}@example.com"),
            &name,
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap();
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..20 {
        // Alternate which goes first: the first call of a pair runs on a
        // colder thread, and that must favour neither side.
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for known in order {
            let login = if known {
                name.as_str()
            } else {
                "nobody-at-all"
            };
            let t = std::time::Instant::now();
            let _ = s
                .accounts()
                .login(login, "wrong password!".into(), &client())
                .await;
            if known { &mut wrong } else { &mut unknown }.push(t.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (w, u) = (median(&mut wrong), median(&mut unknown));
    let ratio = w.max(u) / w.min(u);
    assert!(
        ratio < 1.3,
        "wrong password median {w:.4}s vs unknown account {u:.4}s"
    );
}

on_both_backends!(
    verified_only_features_wait_for_a_verified_address,
    |backend| {
        let config = AuthConfig {
            verified_only: vec![latchkey_core::config::Feature::ChangeUsername],
            ..AuthConfig::for_tests()
        };
        let s = services_with(backend, config).await;
        let common::NewAccount {
            name, user, issued, ..
        } = common::sign_up(&s).await;
        let auth = s
            .sessions()
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .unwrap();
        let err = s
            .accounts()
            .update_username(&auth, "renamed")
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::EmailUnverified);

        latchkey_core::user_store::set_email_verified(&s.db, &user.id, latchkey_core::now())
            .await
            .unwrap();
        // Written behind the flows' back: what they would have forgotten.
        s.session_cache
            .forget(&latchkey_core::Change::User(user.id.clone()));
        let auth = s
            .sessions()
            .authenticate(&issued.access_token, &common::NO_CLIENT)
            .await
            .unwrap()
            .unwrap();
        let renamed = format!("{name}x");
        assert_eq!(
            s.accounts()
                .update_username(&auth, &renamed)
                .await
                .unwrap()
                .username,
            renamed
        );
    }
);

on_both_backends!(failed_logins_slow_down_then_recover, |backend| {
    let s = services(backend).await;
    let account = common::sign_up(&s).await;
    let ip = client();
    for _ in 0..5 {
        let err = s
            .accounts()
            .login(&account.name, "not the password".into(), &ip)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidCredentials);
    }
    // After five failures the name must wait, even with the right password.
    let wait = s
        .accounts()
        .login(&account.name, PASSWORD.into(), &ip)
        .await
        .unwrap_err();
    assert_eq!(wait.code, ErrorCode::RateLimited);
    assert_eq!(wait.retry_after, Some(1));
    // An unknown name is throttled the same way: a 429 says nothing.
    for _ in 0..6 {
        let _ = s
            .accounts()
            .login("nobody-at-all-here", "guess".into(), &client())
            .await;
    }
    let unknown = s
        .accounts()
        .login("nobody-at-all-here", "guess".into(), &client())
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::RateLimited);
    // The wait ends by itself.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.accounts()
        .login(&account.name, PASSWORD.into(), &ip)
        .await
        .expect("the wait is over");
});

/// A client address of its own for each attempt, as from a botnet: only
/// the account's budget can stop them.
fn stranger(i: usize) -> ClientInfo {
    ClientInfo {
        ip: Some(format!("198.51.{}.{}", i / 250, i % 250)),
        ..client()
    }
}

// Attempts are counted before the hash, atomically: 300 concurrent wrong
// passwords, half by email and half by username, get the free five and
// no more.
on_both_backends!(concurrent_guesses_get_only_the_free_attempts, |backend| {
    let s = services(backend).await;
    let account = common::sign_up(&s).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..300 {
        let s = s.clone();
        let login = if i % 2 == 0 {
            account.email.to_uppercase()
        } else {
            account.name.clone()
        };
        guesses.spawn(async move {
            s.accounts()
                .login(&login, format!("guess number {i}"), &stranger(i))
                .await
                .unwrap_err()
                .code
        });
    }
    let (mut wrong, mut waits) = (0, 0);
    while let Some(code) = guesses.join_next().await {
        match code.unwrap() {
            ErrorCode::InvalidCredentials => wrong += 1,
            ErrorCode::RateLimited => waits += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(wrong <= 5, "{wrong} guesses were checked");
    assert_eq!(wrong + waits, 300);
});

/// Twelve log-ins with `account`'s password, and `interrupt` once the
/// first is through while the others are still hashing or committing: the
/// sessions the log-ins opened.
async fn racing_log_ins<F: std::future::Future<Output = ()>>(
    s: &Services,
    account: &common::NewAccount,
    interrupt: F,
) -> Vec<Issued> {
    let first_done = std::sync::Arc::new(tokio::sync::Notify::new());
    let logins = (0..12).map(|i| {
        let s = s.clone();
        let email = account.email.clone();
        let first_done = first_done.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(i * 10)).await;
            let result = s.accounts().login(&email, PASSWORD.into(), &client()).await;
            first_done.notify_one();
            result
        }
    });
    let interrupt = async {
        first_done.notified().await;
        interrupt.await
    };
    let (results, ()) = tokio::join!(futures::future::join_all(logins), interrupt);
    let opened: Vec<Issued> = results
        .into_iter()
        .filter_map(|r| r.ok())
        .map(|(_, i)| i)
        .collect();
    assert!(!opened.is_empty(), "some log-ins finished first");
    opened
}

async fn assert_ended(s: &Services, sessions: &[Issued], why: &str) {
    for issued in sessions {
        assert!(
            s.sessions()
                .authenticate(&issued.access_token, &common::NO_CLIENT)
                .await
                .unwrap()
                .is_none(),
            "a session opened before {why} survived it"
        );
        assert!(s
            .sessions()
            .refresh(&issued.refresh_token, &common::NO_CLIENT)
            .await
            .is_err());
    }
}

fn many_attempts() -> AuthConfig {
    AuthConfig {
        login_free_failures: (1000, 1000),
        ..AuthConfig::for_tests()
    }
}

/// Services on `s`'s stores that have not read the webhook subscriptions,
/// so every event counts as wanted and a log-in ends in a transaction, one
/// step at a time (the path a rehash or a log-in webhook takes), where `s`
/// ends it in one trip. The race tests run on both.
async fn ending_in_a_transaction(s: &Services) -> Services {
    let other = latchkey_core::Services::new(
        s.db.clone(),
        s.ephemeral.clone(),
        many_attempts(),
        common::letters(),
    );
    other.keys.ready().await.expect("signing keys");
    other
}

// Log-ins racing a password change: each one either fails or has its
// session ended by the change, whatever the order they commit in. No
// session opened with the old password outlives the change.
on_both_backends!(
    log_ins_racing_a_password_change_keep_no_session,
    |backend| {
        let s = services_with(backend, many_attempts()).await;
        for logins in [s.clone(), super::ending_in_a_transaction(&s).await] {
            let account = common::sign_up(&s).await;
            let auth = common::auth_of(&s, &account).await;
            let new = "a brand new horse battery";
            let opened = super::racing_log_ins(&logins, &account, async {
                s.passwords()
                    .change_password(&auth, PASSWORD.into(), new.into())
                    .await
                    .unwrap();
            })
            .await;
            super::assert_ended(&s, &opened, "the password change").await;
            // The one who changed it is still in; the new password works.
            assert!(s
                .sessions()
                .authenticate(&account.issued.access_token, &common::NO_CLIENT)
                .await
                .unwrap()
                .is_some());
            s.accounts()
                .login(&account.email, new.into(), &client())
                .await
                .unwrap();
        }
    }
);

// The same against an administrator disabling the account: a log-in that
// checked the password before the disable is refused, or its session
// ended; none outlives it, and none is left for the account's return.
on_both_backends!(log_ins_racing_a_disable_keep_no_session, |backend| {
    let s = services_with(backend, many_attempts()).await;
    let admin = common::make_admin(&s).await;
    let admin_auth = common::auth_of(&s, &admin).await;
    for logins in [s.clone(), super::ending_in_a_transaction(&s).await] {
        let account = common::sign_up(&s).await;
        let disabled = |yes: bool| {
            let (s, admin_auth, id) = (&s, &admin_auth, account.user.id.clone());
            async move {
                s.admin()
                    .change_user(
                        admin_auth,
                        &id,
                        &latchkey_core::model::UserChange {
                            disabled: Some(yes),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
            }
        };
        let opened = super::racing_log_ins(&logins, &account, disabled(true)).await;
        disabled(false).await;
        super::assert_ended(&s, &opened, "the disable").await;
    }
});

// A success gives its attempt back: signing in often never throttles.
on_both_backends!(successful_logins_spend_no_budget, |backend| {
    let s = services(backend).await;
    let account = common::sign_up(&s).await;
    for _ in 0..8 {
        s.accounts()
            .login(&account.name, PASSWORD.into(), &client())
            .await
            .expect("the owner is never throttled by their own successes");
    }
});

// OWASP device cookies: a stranger who exhausts the account's budget does
// not lock out its owner's known browser; a new browser waits like the
// stranger, and the known browser has a budget of its own.
on_both_backends!(a_known_browser_keeps_its_own_budget, |backend| {
    let s = services(backend).await;
    let account = common::sign_up(&s).await;
    let token = s
        .accounts()
        .device_token(&account.user.id, &client())
        .await
        .unwrap()
        .expect("a browser new to the account gets a device cookie");
    let known = ClientInfo {
        device: Some(token.clone()),
        ..client()
    };
    assert_eq!(
        s.accounts()
            .device_token(&account.user.id, &known)
            .await
            .unwrap(),
        None,
        "one it has is kept"
    );

    for i in 0..20 {
        let _ = s
            .accounts()
            .login(&account.name, "wrong".into(), &stranger(i))
            .await;
    }
    let err = s
        .accounts()
        .login(&account.name, PASSWORD.into(), &stranger(99))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited, "a new browser waits");
    s.accounts()
        .login(&account.name, PASSWORD.into(), &known)
        .await
        .expect("the owner's known browser signs in");

    // A device cookie of another account, or a forged one, is no key.
    let other = common::sign_up(&s).await;
    let foreign = ClientInfo {
        device: s
            .accounts()
            .device_token(&other.user.id, &client())
            .await
            .unwrap(),
        ..client()
    };
    let err = s
        .accounts()
        .login(&account.name, PASSWORD.into(), &foreign)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited);
    let forged = ClientInfo {
        device: Some(token.replace(&account.user.id, &other.user.id)),
        ..client()
    };
    let err = s
        .accounts()
        .login(&other.name, PASSWORD.into(), &forged)
        .await;
    assert!(
        err.is_ok(),
        "a forged cookie is ignored, the account's own budget applies"
    );

    // The known browser guessing is throttled on its own budget.
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(
            s.accounts()
                .login(&account.name, "wrong".into(), &known)
                .await
                .unwrap_err()
                .code,
        );
    }
    assert!(codes.contains(&ErrorCode::RateLimited), "{codes:?}");
});

// One mailbox, one account: a full-width or internationalised domain is
// stored in its ASCII form, so it collides with (and logs in as) its ASCII
// spelling; a passphrase typed in another Unicode form still matches.
on_both_backends!(emails_and_passwords_have_one_spelling, |backend| {
    let s = services(backend).await;
    let name = unique_name();
    let passphrase = "한글 비밀 문장 １２３";
    let (user, _) = s
        .accounts()
        .signup(
            &format!("{name}@ｅｘａｍｐｌｅ.ｃｏｍ"),
            &name,
            passphrase.into(),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(user.email, format!("{name}@example.com"));
    let err = s
        .accounts()
        .signup(
            &format!("{name}@example.com"),
            &format!("{name}2"),
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::EmailTaken);
    let decomposed: String = {
        use unicode_normalization::UnicodeNormalization;
        passphrase.nfd().collect()
    };
    s.accounts()
        .login(
            &format!("{name}@ｅｘａｍｐｌｅ.ｃｏｍ"),
            decomposed,
            &client(),
        )
        .await
        .expect("the same mailbox and the same passphrase");
    let err = s
        .accounts()
        .signup(
            "someone@localhost",
            &unique_name(),
            PASSWORD.into(),
            &client(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("email"));
});

// Each sign-up costs a hash and a row: a client address gets
// `signups_per_hour_per_ip` of them an hour (both kinds of sign-up share the
// budget), and another address is not held up by it.
on_both_backends!(sign_ups_are_limited_per_client_address, |backend| {
    let s = services_with(
        backend,
        AuthConfig {
            signups_per_hour_per_ip: 2,
            ..AuthConfig::for_tests()
        },
    )
    .await;
    let from = |ip: &str| ClientInfo {
        ip: Some(ip.into()),
        ..client()
    };
    let sign_up = |ip: &'static str| {
        let s = s.clone();
        async move {
            let name = unique_name();
            s.accounts()
                .signup(
                    &format!("{name}@example.com"),
                    &name,
                    PASSWORD.into(),
                    &from(ip),
                )
                .await
        }
    };
    for _ in 0..2 {
        sign_up("203.0.113.7").await.unwrap();
    }
    let refused = sign_up("203.0.113.7").await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::RateLimited);
    assert!(refused
        .retry_after
        .is_some_and(|secs| secs > 0 && secs <= 3600));
    sign_up("203.0.113.8").await.unwrap();
});
