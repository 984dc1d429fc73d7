//! Passkeys, on both deployments, answered by a software passkey with a
//! real P-256 key (`testkit::authenticator`): adding, signing in, and the
//! rules around the ceremonies.

use std::time::Duration;

use crate::common;

use common::authenticator::{Device, SoftPasskey};
use common::{client, smtp, NewAccount, PASSWORD};
use latchkey_core::model::{EventKind, EventReason, UserChange};
use latchkey_core::quiet_signup::SignUp;
use latchkey_core::{Auth, AuthConfig, ErrorCode, Reason, Services};

/// A sign-up with no password, under a fresh name.
async fn sign_up_without_password(s: &Services) -> Result<SignUp, latchkey_core::Error> {
    let name = common::unique_name();
    s.accounts()
        .sign_up_without_password(&format!("{name}@example.com"), &name, &client())
        .await
}

/// Passkeys need a domain: the tests' site is on localhost.
const ORIGIN: &str = "http://localhost:3000";

fn config() -> AuthConfig {
    AuthConfig {
        public_url: ORIGIN.into(),
        ..AuthConfig::for_tests()
    }
}

fn reason<T: std::fmt::Debug>(result: Result<T, latchkey_core::Error>) -> Option<Reason> {
    result.expect_err("should be refused").reason
}

/// Opens a ceremony adding a passkey named `name` to `auth`'s account,
/// with the password; returns its options for the device.
async fn start(s: &Services, auth: &Auth, name: &str) -> String {
    s.passkeys()
        .start_adding(auth, name, PASSWORD.into())
        .await
        .expect("the password starts a ceremony")
        .options
}

/// Adds a passkey named `name` to `auth`'s account.
async fn add(s: &Services, auth: &Auth, name: &str) -> SoftPasskey {
    let (passkey, answer) = SoftPasskey::create(&start(s, auth, name).await, ORIGIN);
    let added = s
        .passkeys()
        .finish_adding(auth, &answer, &client())
        .await
        .expect("the device's answer verifies");
    assert_eq!(added.name, name);
    passkey
}

async fn with_passkey(s: &Services) -> (NewAccount, SoftPasskey) {
    let account = common::sign_up(s).await;
    let auth = common::auth_of(s, &account).await;
    let passkey = add(s, &auth, "Phone").await;
    (account, passkey)
}

async fn sign_in(
    s: &Services,
    passkey: &mut SoftPasskey,
) -> Result<(latchkey_core::model::User, latchkey_core::sessions::Issued), latchkey_core::Error> {
    let ceremony = s.passkeys().start_sign_in().unwrap();
    let answer = passkey.get(&ceremony.options);
    s.passkeys()
        .sign_in(&ceremony.ceremony, &answer, &client())
        .await
}

on_both_backends!(a_passkey_signs_in_by_itself, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, config()).await;
    let (account, mut passkey) = with_passkey(&s).await;
    inbox
        .wait_for_subject(&account.email, "passkey was added")
        .await;
    let (user, issued) = sign_in(&s, &mut passkey).await.expect("signed in");
    assert_eq!(user.id, account.user.id);
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .expect("a live session");
    // Listed, with its use.
    let listed = s.passkeys().list(&auth).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Phone");
    assert!(listed[0].last_used_at.is_some());
    // Logged as what it was.
    let activity = s
        .accounts()
        .own_activity(&account.user.id, None)
        .await
        .unwrap();
    let kinds: Vec<_> = activity
        .events
        .iter()
        .map(|e| (e.kind, e.detail.clone().unwrap_or_default()))
        .collect();
    assert!(
        kinds.contains(&(EventKind::LoginSucceeded, "passkey".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(EventKind::PasskeyAdded, "Phone".into())),
        "{kinds:?}"
    );
    // Again, and again: the counter moves on each time.
    sign_in(&s, &mut passkey).await.expect("signed in again");
    assert_eq!(passkey.counter, 2);
});

on_both_backends!(
    a_sign_in_ceremony_is_spent_once_however_many_race,
    |backend| {
        let s = common::services_with(backend, config()).await;
        let (_, mut passkey) = with_passkey(&s).await;
        let ceremony = s.passkeys().start_sign_in().unwrap();
        // Two hundred copies of one valid answer at once: one session.
        let answer = passkey.get(&ceremony.options);
        let tries = (0..200).map(|_| {
            let (s, ceremony, answer) = (s.clone(), ceremony.ceremony.clone(), answer.clone());
            tokio::spawn(async move { s.passkeys().sign_in(&ceremony, &answer, &client()).await })
        });
        let results = futures::future::join_all(tries).await;
        let signed_in = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(signed_in, 1);
        // The others: the ceremony was spent, or (read after the winner's
        // write) the answer's counter is no longer ahead of the stored one.
        for result in results {
            if let Ok(Err(err)) = result {
                assert!(
                    matches!(
                        err.reason,
                        Some(Reason::PasskeyExpired | Reason::PasskeyRefused)
                    ),
                    "{err:?}"
                );
            }
        }
        // A token that was never given out, or is not one.
        let answer = passkey.get(&ceremony.options);
        for token in ["A".repeat(43), "nonsense".into()] {
            assert_eq!(
                reason(s.passkeys().sign_in(&token, &answer, &client()).await),
                Some(Reason::PasskeyExpired)
            );
        }
    }
);

on_both_backends!(a_ceremony_expires, |backend| {
    let s = common::services_with(
        backend,
        AuthConfig {
            passkey_ceremony_ttl: Duration::from_secs(1),
            ..config()
        },
    )
    .await;
    let (_, mut passkey) = with_passkey(&s).await;
    let ceremony = s.passkeys().start_sign_in().unwrap();
    let answer = passkey.get(&ceremony.options);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        reason(
            s.passkeys()
                .sign_in(&ceremony.ceremony, &answer, &client())
                .await
        ),
        Some(Reason::PasskeyExpired)
    );
});

// The adding ceremony is the session's: another session of the same
// account (or a stolen token for another) cannot finish it.
on_both_backends!(adding_is_bound_to_the_session_that_asked, |backend| {
    let s = common::services_with(backend, config()).await;
    let account = common::sign_up(&s).await;
    let first = common::auth_of(&s, &account).await;
    let (_, issued) = s
        .accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let second = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    let options = start(&s, &first, "Laptop").await;
    let (_, answer) = SoftPasskey::create(&options, ORIGIN);
    assert_eq!(
        reason(
            s.passkeys()
                .finish_adding(&second, &answer, &client())
                .await
        ),
        Some(Reason::PasskeyExpired)
    );
    // No answer (cancelled on the device) keeps it open; a wrong password
    // never opens one.
    assert_eq!(
        reason(s.passkeys().finish_adding(&first, "", &client()).await),
        Some(Reason::PasskeyCancelled)
    );
    assert!(s.passkeys().pending(&first).await.unwrap().is_some());
    s.passkeys()
        .finish_adding(&first, &answer, &client())
        .await
        .expect("its own session finishes it");
    assert_eq!(
        s.passkeys()
            .start_adding(&second, "Other", "wrong password".into())
            .await
            .expect_err("a wrong password")
            .code,
        ErrorCode::InvalidCredentials
    );
    assert!(s.passkeys().pending(&second).await.unwrap().is_none());
    // An answer made for another site does not verify.
    let options = start(&s, &first, "Elsewhere").await;
    let (_, answer) = SoftPasskey::create(&options, "http://evil.localhost:3000");
    assert_eq!(
        reason(s.passkeys().finish_adding(&first, &answer, &client()).await),
        Some(Reason::PasskeyRefused)
    );
});

on_both_backends!(a_cloned_passkey_is_refused, |backend| {
    let s = common::services_with(backend, config()).await;
    let (_, mut passkey) = with_passkey(&s).await;
    sign_in(&s, &mut passkey)
        .await
        .expect("the real one signs in");
    sign_in(&s, &mut passkey).await.expect("and again");
    // A copy still at the first count: its counter went backwards.
    let ceremony = s.passkeys().start_sign_in().unwrap();
    let answer = passkey.get_as_clone(&ceremony.options, 1);
    assert_eq!(
        reason(
            s.passkeys()
                .sign_in(&ceremony.ceremony, &answer, &client())
                .await
        ),
        Some(Reason::PasskeyRefused)
    );
});

on_both_backends!(
    a_renamed_then_removed_passkey_no_longer_signs_in,
    |backend| {
        let s = common::services_with(backend, config()).await;
        let (account, mut passkey) = with_passkey(&s).await;
        let auth = common::auth_of(&s, &account).await;
        let id = s.passkeys().list(&auth).await.unwrap()[0].id.clone();
        s.passkeys()
            .rename(&auth, &id, " Work phone ")
            .await
            .unwrap();
        assert_eq!(
            s.passkeys().list(&auth).await.unwrap()[0].name,
            "Work phone"
        );
        assert_eq!(
            reason(s.passkeys().rename(&auth, &id, &"x".repeat(65)).await),
            Some(Reason::PasskeyName)
        );
        // Someone else's account cannot touch it.
        let stranger = common::sign_up(&s).await;
        let stranger = common::auth_of(&s, &stranger).await;
        assert_eq!(
            reason(s.passkeys().rename(&stranger, &id, "Mine").await),
            Some(Reason::NoSuchPasskey)
        );
        assert_eq!(
            reason(
                s.passkeys()
                    .remove(&stranger, &id, PASSWORD.into(), &client())
                    .await
            ),
            Some(Reason::NoSuchPasskey)
        );
        assert_eq!(
            s.passkeys()
                .remove(&auth, &id, "wrong password".into(), &client())
                .await
                .expect_err("needs the password")
                .code,
            ErrorCode::InvalidCredentials
        );
        s.passkeys()
            .remove(&auth, &id, PASSWORD.into(), &client())
            .await
            .unwrap();
        assert!(s.passkeys().list(&auth).await.unwrap().is_empty());
        assert_eq!(
            reason(sign_in(&s, &mut passkey).await),
            Some(Reason::PasskeyUnknown)
        );
    }
);

on_both_backends!(a_disabled_account_is_refused_with_its_passkey, |backend| {
    let s = common::services_with(backend, config()).await;
    let admin = common::make_admin(&s).await;
    let admin = common::auth_of(&s, &admin).await;
    let (account, mut passkey) = with_passkey(&s).await;
    s.admin()
        .change_user(
            &admin,
            &account.user.id,
            &UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        sign_in(&s, &mut passkey).await.expect_err("disabled").code,
        ErrorCode::AccountDisabled
    );
});

// Someone signed up with another's address and added a passkey: when the
// address's owner proves it, the passkey goes with the squatter's password.
on_both_backends!(
    a_squatters_passkey_goes_when_the_owner_proves_the_address,
    |backend| {
        let (s, inbox) = common::services_with_smtp(backend, config()).await;
        let (squatter, mut passkey) = with_passkey(&s).await;
        common::sign_in_by_code(&s, &inbox, &squatter.email)
            .await
            .expect("the mailbox's owner signs in");
        assert_eq!(
            reason(sign_in(&s, &mut passkey).await),
            Some(Reason::PasskeyUnknown)
        );
    }
);

on_both_backends!(passkeys_are_off_on_an_ip_address, |backend| {
    let s = common::services(backend).await;
    assert!(!s.passkeys().enabled());
    assert_eq!(
        reason(s.passkeys().start_sign_in()),
        Some(Reason::PasskeysOff)
    );
    let account = common::sign_up(&s).await;
    let auth = common::auth_of(&s, &account).await;
    assert_eq!(
        reason(
            s.passkeys()
                .start_adding(&auth, "Phone", PASSWORD.into())
                .await
        ),
        Some(Reason::PasskeysOff)
    );
});

// An intruder who changed the address may have added a passkey before
// confirming the change: undoing it removes every passkey, like the
// password.
on_both_backends!(undoing_an_email_change_removes_every_passkey, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, config()).await;
    let account = common::sign_up(&s).await;
    let auth = common::auth_of(&s, &account).await;
    let code = smtp::code_in(
        &inbox
            .wait_for_subject(&account.email, "verification code")
            .await,
    );
    s.accounts()
        .verify_email(&auth, &code, &client())
        .await
        .unwrap();
    let auth = common::auth_of(&s, &account).await;
    assert!(auth.user.email_verified);
    let mut passkey = add(&s, &auth, "Phone").await;
    let new_email = format!("moved{}@example.com", common::unique_name());
    s.accounts()
        .request_email_change(&auth, &new_email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let code = smtp::code_in(
        &inbox
            .wait_for_subject(&new_email, "change your email")
            .await,
    );
    s.accounts()
        .confirm_email_change(&auth, &new_email, &code, &client())
        .await
        .unwrap();
    let notice = inbox
        .wait_for_subject(&account.email, "email address of your")
        .await;
    s.accounts()
        .revert_email_change(&smtp::revert_token_in(&notice), &client())
        .await
        .expect("the old mailbox undoes the change");
    assert_eq!(
        reason(sign_in(&s, &mut passkey).await),
        Some(Reason::PasskeyUnknown)
    );
});

on_both_backends!(
    a_device_that_does_not_verify_its_user_is_refused,
    |backend| {
        let s = common::services_with(backend, config()).await;
        let account = common::sign_up(&s).await;
        let auth = common::auth_of(&s, &account).await;
        let careless = Device {
            verifies_user: false,
            ..Device::default()
        };
        let options = start(&s, &auth, "Key").await;
        let (_, answer) = SoftPasskey::create_on(careless, &options, ORIGIN);
        assert_eq!(
            reason(s.passkeys().finish_adding(&auth, &answer, &client()).await),
            Some(Reason::PasskeyRefused)
        );
        // A passkey is two factors only with the user verified: one whose
        // device stops asking signs in no more.
        let mut passkey = add(&s, &auth, "Phone").await;
        passkey.device = careless;
        assert_eq!(
            reason(sign_in(&s, &mut passkey).await),
            Some(Reason::PasskeyRefused)
        );
    }
);

// Passkeys kept in a phone's password manager are backed up and count
// nothing (their counter stays 0): they sign in every time.
on_both_backends!(a_synced_passkey_without_a_counter_signs_in, |backend| {
    let s = common::services_with(backend, config()).await;
    let account = common::sign_up(&s).await;
    let auth = common::auth_of(&s, &account).await;
    let options = start(&s, &auth, "Synced").await;
    let synced = Device {
        synced: true,
        ..Device::default()
    };
    let (mut passkey, answer) = SoftPasskey::create_on(synced, &options, ORIGIN);
    s.passkeys()
        .finish_adding(&auth, &answer, &client())
        .await
        .expect("a synced passkey is added");
    for _ in 0..3 {
        sign_in(&s, &mut passkey)
            .await
            .expect("a synced passkey signs in");
    }
    assert_eq!(passkey.counter, 0);
});

/// The account's activity as (kind, reason, detail).
async fn activity(s: &Services, user_id: &str) -> Vec<(EventKind, Option<EventReason>, String)> {
    let page = s.accounts().own_activity(user_id, None).await.unwrap();
    page.events
        .into_iter()
        .map(|e| (e.kind, e.reason, e.detail.unwrap_or_default()))
        .collect()
}

on_both_backends!(an_admin_reset_removes_passkeys_and_says_so, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, config()).await;
    let (account, mut passkey) = with_passkey(&s).await;
    let admin = common::make_admin(&s).await;
    let admin_auth = common::auth_of(&s, &admin).await;
    s.admin()
        .admin_reset_second_factors(&admin_auth, &account.user.id)
        .await
        .expect("the admin resets the factors");
    assert_eq!(
        reason(sign_in(&s, &mut passkey).await),
        Some(Reason::PasskeyUnknown)
    );
    let mail = inbox
        .wait_for_subject(&account.email, "reset how you sign in")
        .await;
    assert!(mail.contains("passkeys"), "{mail}");
    let logged = activity(&s, &account.user.id).await;
    assert!(
        logged.contains(&(
            EventKind::PasskeyRemoved,
            Some(EventReason::Admin),
            "1".into()
        )),
        "{logged:?}"
    );
});

// `create-admin --reset` on an account whose address was never proven:
// whoever made it keeps no way in, passkeys included.
on_both_backends!(
    create_admin_with_reset_removes_the_squatters_passkeys,
    |backend| {
        let s = common::services_with(backend, config()).await;
        let (squatter, mut passkey) = with_passkey(&s).await;
        s.admin()
            .create_admin(&squatter.email, "ignored", true, || Ok(PASSWORD.into()))
            .await
            .expect("promoted with --reset");
        assert_eq!(
            reason(sign_in(&s, &mut passkey).await),
            Some(Reason::PasskeyUnknown)
        );
        let logged = activity(&s, &squatter.user.id).await;
        assert!(
            logged.contains(&(
                EventKind::PasskeyRemoved,
                Some(EventReason::Cli),
                "1".into()
            )),
            "{logged:?}"
        );
    }
);

on_both_backends!(without_passkeys_a_sign_up_needs_a_password, |backend| {
    let s = common::services(backend).await;
    let refused = sign_up_without_password(&s).await;
    assert_eq!(
        refused.err().and_then(|e| e.reason),
        Some(Reason::PasskeysOff)
    );
});

on_both_backends!(
    an_adding_ceremony_adds_one_passkey_however_many_race,
    |backend| {
        let s = common::services_with(backend, config()).await;
        let account = common::sign_up(&s).await;
        let auth = common::auth_of(&s, &account).await;
        let options = start(&s, &auth, "Phone").await;
        let (_, answer) = SoftPasskey::create(&options, ORIGIN);
        let tries = (0..200).map(|_| {
            let (s, auth, answer) = (s.clone(), auth.clone(), answer.clone());
            tokio::spawn(async move { s.passkeys().finish_adding(&auth, &answer, &client()).await })
        });
        let results = futures::future::join_all(tries).await;
        let added = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(added, 1);
        // The others found the ceremony taken, not a busy store.
        for result in results {
            if let Ok(Err(err)) = result {
                assert_eq!(err.reason, Some(Reason::PasskeyExpired), "{err:?}");
            }
        }
        assert_eq!(s.passkeys().list(&auth).await.unwrap().len(), 1);
    }
);

// An account without a password deletes itself as it changes its address:
// its sign-in, recent enough, stands in for the password.
on_both_backends!(a_passwordless_account_can_delete_itself, |backend| {
    let s = common::services_with(backend, config()).await;
    let answer = sign_up_without_password(&s)
        .await
        .expect("a passwordless sign-up");
    let SignUp::Started(user, issued) = answer else {
        panic!("addresses are not hidden here: the account opens at once");
    };
    assert!(!user.has_password);
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .expect("a live session");
    // The same session an hour later must sign in again first.
    let backdate = |by: i64| {
        sqlx::query("UPDATE sessions SET created_at = created_at + $1 WHERE id = $2")
            .bind(by)
            .bind(auth.session_id.clone())
            .execute(&s.db.pool)
    };
    backdate(-3600).await.unwrap();
    let err = s
        .passwords()
        .delete_account(&auth, String::new())
        .await
        .expect_err("an old session is no proof");
    assert_eq!(err.code, ErrorCode::ReauthRequired);
    backdate(3600).await.unwrap();
    s.passwords()
        .delete_account(&auth, String::new())
        .await
        .expect("the fresh sign-up confirms it");
    let gone = s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await;
    assert!(!matches!(gone, Ok(Some(_))), "{gone:?}");
});

// With addresses hidden, a passwordless sign-up waits for its code like
// any other, and the account it makes still has no password.
on_both_backends!(a_hidden_passwordless_sign_up_finishes_by_code, |backend| {
    let hiding = AuthConfig {
        signup_hide_existing: true,
        ..config()
    };
    let (s, inbox) = common::services_with_smtp(backend, hiding).await;
    let name = common::unique_name();
    let email = format!("{name}@example.com");
    let answer = s
        .accounts()
        .sign_up_without_password(&email, &name, &client())
        .await
        .expect("a passwordless sign-up");
    let SignUp::Pending(pending) = answer else {
        panic!("addresses are hidden: the code makes the account");
    };
    let code = smtp::code_in(&inbox.wait_for_subject(&email, "finish signing up").await);
    let (user, _) = s
        .accounts()
        .finish_signup(&email, &code, &pending.token, &client())
        .await
        .expect("the code finishes it");
    assert!(user.email_verified && !user.has_password);
});
