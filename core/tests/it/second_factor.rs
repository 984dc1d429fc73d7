//! Authenticator apps and recovery codes, on both deployments. Codes are
//! computed by Debian's `oathtool`, an RFC 6238 implementation nobody here
//! wrote, from the secret the set-up shows.

use crate::common;

use common::{client, smtp, NewAccount, PASSWORD};
use latchkey_core::model::EventKind;
use latchkey_core::{AuthConfig, Error, ErrorCode, Services};

/// The code the app shows for `secret` at `when` (oathtool).
fn app_code(secret: &str, when: &str) -> String {
    common::authenticator_code(secret, when)
}

/// A signed-up account with a confirmed authenticator app: its secret and
/// recovery codes. Confirming spends the current step's code, so the next
/// sign-in uses the next step's (one step of drift is accepted).
async fn with_app(s: &Services) -> (NewAccount, String, Vec<String>) {
    let account = common::sign_up(s).await;
    // A proven address: an app on an unproven one goes when its owner
    // proves it (`an_app_from_before_the_address_was_proven_goes`).
    latchkey_core::user_store::set_email_verified(&s.db, &account.user.id, latchkey_core::now())
        .await
        .unwrap();
    let auth = common::auth_of(s, &account).await;
    let setup = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    assert!(setup.uri.starts_with("otpauth://totp/"), "{}", setup.uri);
    assert!(setup.qr_svg.starts_with("<svg"));
    let codes = s
        .second_factors()
        .confirm_authenticator(&auth, &app_code(&setup.secret, "now"), &client())
        .await
        .expect("oathtool's code confirms the app");
    (account, setup.secret, codes)
}

/// `n` challenges, one after another (concurrent password attempts would
/// spend the log-in budget, which is not what these tests are about).
async fn challenges(s: &Services, account: &NewAccount, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(challenge(s, account).await);
    }
    out
}

/// Logs in with the password and returns the challenge the second step needs.
async fn challenge(s: &Services, account: &NewAccount) -> String {
    let err = s
        .accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .expect_err("the password alone does not sign in");
    second_step_of(err)
}

fn second_step_of(err: Error) -> String {
    assert_eq!(err.code, ErrorCode::MfaRequired, "{err:?}");
    err.challenge
        .expect("a challenge comes with mfa_required")
        .0
}

fn code_of<T: std::fmt::Debug>(result: Result<T, Error>) -> ErrorCode {
    result.expect_err("should be refused").code
}

on_both_backends!(an_app_code_finishes_a_sign_in_once, |backend| {
    let s = common::services(backend).await;
    let (account, secret, codes) = with_app(&s).await;
    assert_eq!(codes.len(), 10);
    let auth = common::auth_of(&s, &account).await;
    let status = s.second_factors().status(&auth).await.unwrap();
    assert!(status.authenticator_since.is_some());
    assert_eq!(status.recovery_codes_left, 10);
    // Sessions from before the app stay signed in.
    assert_eq!(auth.user.id, account.user.id);

    let ticket = challenge(&s, &account).await;
    let next = app_code(&secret, "now + 30 seconds");
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&ticket, "000000", &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
    // Too far ahead: beyond one step of drift.
    let far = app_code(&secret, "now + 90 seconds");
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&ticket, &far, &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
    let (user, issued) = s
        .second_factors()
        .complete_sign_in(&ticket, &next, &client())
        .await
        .expect("the next step's code signs in");
    assert_eq!(user.id, account.user.id);
    // Apps are told both factors (`amr` ["pwd", "otp", "mfa"], `acr` "2").
    let method: String = sqlx::query_scalar("SELECT method FROM sessions WHERE id = $1")
        .bind(&issued.session_id)
        .fetch_one(&s.db.pool)
        .await
        .unwrap();
    assert_eq!(method, "password+totp");
    assert!(s
        .sessions()
        .authenticate(&issued.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .is_some());
    // The challenge is spent, and the code too (replay with a new one).
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&ticket, &next, &client())
                .await
        ),
        ErrorCode::Unauthorized
    );
    let again = challenge(&s, &account).await;
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&again, &next, &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
    // The OAuth-style log-in by code asks too, and so does a garbled ticket.
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in("not-a-ticket", &next, &client())
                .await
        ),
        ErrorCode::Unauthorized
    );
});

on_both_backends!(a_recovery_code_works_once_and_tells_the_owner, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let (account, _secret, codes) = with_app(&s).await;
    inbox
        .wait_for_subject(&account.email, "authenticator app was added")
        .await;
    let ticket = challenge(&s, &account).await;
    // Typed loosely: upper case, no dash.
    let typed = codes[3].to_uppercase().replace('-', " ");
    s.second_factors()
        .complete_sign_in(&ticket, &typed, &client())
        .await
        .expect("a recovery code signs in");
    let mail = inbox
        .wait_for_subject(&account.email, "recovery code was used")
        .await;
    assert!(mail.contains("You have 9 left"), "{mail}");
    let again = challenge(&s, &account).await;
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&again, &codes[3], &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
    let auth = common::auth_of(&s, &account).await;
    assert_eq!(
        s.second_factors()
            .status(&auth)
            .await
            .unwrap()
            .recovery_codes_left,
        9
    );
    // Renewing needs a current factor; the old codes die.
    let fresh = s
        .second_factors()
        .renew_recovery_codes(&auth, &codes[4], &client())
        .await
        .unwrap();
    // The owner is told: a session and one code were enough.
    let notice = inbox
        .wait_for_subject(&account.email, "New recovery codes were made")
        .await;
    assert!(notice.contains("only the new ones sign in"), "{notice}");
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&again, &codes[5], &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
    s.second_factors()
        .complete_sign_in(&again, &fresh[0], &client())
        .await
        .expect("a new code works");
    let kinds: Vec<_> = s
        .accounts()
        .own_activity(&account.user.id, None)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        EventKind::SecondFactorAdded,
        EventKind::RecoveryCodeUsed,
        EventKind::RecoveryCodesRenewed,
        EventKind::LoginFailed,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
});

/// How many of `codes` (each spent against its own ticket, all at once)
/// opened a session.
async fn race(s: &Services, attempts: Vec<(String, String)>) -> usize {
    let results = futures::future::join_all(attempts.into_iter().map(|(ticket, code)| {
        let s = s.clone();
        tokio::spawn(async move {
            s.second_factors()
                .complete_sign_in(&ticket, &code, &client())
                .await
        })
    }))
    .await;
    results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count()
}

// Each race on an account of its own: the losers count as wrong codes.
on_both_backends!(concurrent_uses_of_one_code_open_one_session, |backend| {
    let s = common::services(backend).await;
    // One app code, eight sign-ins racing with it.
    let (account, secret, _) = with_app(&s).await;
    let code = app_code(&secret, "now + 30 seconds");
    let tickets = challenges(&s, &account, 8).await;
    let won = race(&s, tickets.into_iter().map(|t| (t, code.clone())).collect()).await;
    assert_eq!(won, 1, "one app code, one session");
    // One recovery code, eight racing.
    let (account, _, codes) = with_app(&s).await;
    let tickets = challenges(&s, &account, 8).await;
    let won = race(
        &s,
        tickets.into_iter().map(|t| (t, codes[0].clone())).collect(),
    )
    .await;
    assert_eq!(won, 1, "one recovery code, one session");
    // One ticket, five different right codes: still one session.
    let (account, _, codes) = with_app(&s).await;
    let ticket = challenge(&s, &account).await;
    let won = race(
        &s,
        codes[1..6]
            .iter()
            .map(|c| (ticket.clone(), c.clone()))
            .collect(),
    )
    .await;
    assert_eq!(won, 1, "one ticket, one session");
});

on_both_backends!(wrong_codes_wait_like_wrong_passwords, |backend| {
    let s = common::services(backend).await;
    let (account, secret, _codes) = with_app(&s).await;
    let ticket = challenge(&s, &account).await;
    for _ in 0..5 {
        assert_eq!(
            code_of(
                s.second_factors()
                    .complete_sign_in(&ticket, "123456", &client())
                    .await
            ),
            ErrorCode::CodeWrong
        );
    }
    // The fifth wrong code started a wait: even the right one waits now.
    let right = app_code(&secret, "now + 30 seconds");
    let err = s
        .second_factors()
        .complete_sign_in(&ticket, &right, &client())
        .await
        .expect_err("throttled");
    assert_eq!(err.code, ErrorCode::RateLimited);
    assert!(err.retry_after.is_some());
});

on_both_backends!(every_first_factor_leads_to_the_second, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let (account, secret, _codes) = with_app(&s).await;
    // Sign-in by emailed code.
    let err = common::sign_in_by_code(&s, &inbox, &account.email)
        .await
        .expect_err("the mailbox alone does not sign in");
    let by_code = second_step_of(err);
    // A reset link asks for the second factor with the new password, and
    // changes nothing without it.
    s.passwords()
        .forgot_password(&account.email, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&account.email, "Reset your").await;
    let link = smtp::reset_token_in(&mail);
    let reset = |code: Option<&'static str>| {
        let (s, link) = (s.clone(), link.clone());
        async move {
            s.passwords()
                .reset_password_with(&link, "a brand new passphrase".into(), code, &client())
                .await
        }
    };
    let err = reset(None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::MfaRequired);
    assert!(err.is_for("code") && err.challenge.is_none(), "{err:?}");
    assert_eq!(code_of(reset(Some("000000")).await), ErrorCode::CodeWrong);
    let next = app_code(&secret, "now + 30 seconds");
    let by_reset = {
        let (s, link, next) = (s.clone(), link.clone(), next.clone());
        s.passwords()
            .reset_password_with(
                &link,
                "a brand new passphrase".into(),
                Some(&next),
                &client(),
            )
            .await
            .expect("the link and a current code reset the password")
    };
    let auth = s
        .sessions()
        .authenticate(&by_reset.1.access_token, &common::NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    // The reset's session proved the second factor: it may change things.
    s.accounts()
        .request_email_change(
            &auth,
            "moved@example.com",
            "a brand new passphrase".into(),
            &client(),
        )
        .await
        .expect("a fresh second factor");
    // The password changed: the code sign-in's challenge is dead.
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&by_code, "000000", &client())
                .await
        ),
        ErrorCode::Unauthorized
    );
});

on_both_backends!(removing_the_app_needs_the_password_and_a_code, |backend| {
    let s = common::services(backend).await;
    let (account, secret, codes) = with_app(&s).await;
    let auth = common::auth_of(&s, &account).await;
    let remove = |password: &'static str, code: String| {
        let (s, auth) = (s.clone(), auth.clone());
        async move {
            s.second_factors()
                .remove_authenticator(&auth, password.into(), &code, &client())
                .await
        }
    };
    assert_eq!(
        code_of(remove("not the password", codes[0].clone()).await),
        ErrorCode::InvalidCredentials
    );
    assert_eq!(
        code_of(remove(PASSWORD, "000000".into()).await),
        ErrorCode::CodeWrong
    );
    // Starting a set-up while one is on is refused.
    assert_eq!(
        code_of(
            s.second_factors()
                .start_authenticator(&auth, PASSWORD.into())
                .await
        ),
        ErrorCode::Conflict
    );
    remove(PASSWORD, app_code(&secret, "now + 30 seconds"))
        .await
        .expect("password and a current code remove it");
    s.accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .expect("the password alone signs in again");
    let status = s.second_factors().status(&auth).await.unwrap();
    assert_eq!(status.authenticator_since, None);
    assert_eq!(status.recovery_codes_left, 0);
});

on_both_backends!(an_unconfirmed_app_changes_nothing, |backend| {
    let s = common::services(backend).await;
    let account = common::sign_up(&s).await;
    let auth = common::auth_of(&s, &account).await;
    let first = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    let second = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    assert_ne!(
        first.secret, second.secret,
        "starting again replaces the secret"
    );
    assert_eq!(
        s.second_factors()
            .pending_authenticator(&auth)
            .await
            .unwrap(),
        Some(second.clone())
    );
    s.accounts()
        .login(&account.email, PASSWORD.into(), &client())
        .await
        .expect("no second factor until confirmed");
    // The replaced secret's code does not confirm.
    assert_eq!(
        code_of(
            s.second_factors()
                .confirm_authenticator(&auth, &app_code(&first.secret, "now"), &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
});

on_both_backends!(
    changes_that_hand_over_the_account_ask_for_a_fresh_factor,
    |backend| {
        let s = common::services(backend).await;
        let account = common::sign_up(&s).await;
        // A session from before the app: it never proved the second factor.
        let old = common::auth_of(&s, &account).await;
        let other = {
            let (_, issued) = s
                .accounts()
                .login(&account.email, PASSWORD.into(), &client())
                .await
                .unwrap();
            s.sessions()
                .authenticate(&issued.access_token, &common::NO_CLIENT)
                .await
                .unwrap()
                .unwrap()
        };
        let setup = s
            .second_factors()
            .start_authenticator(&other, PASSWORD.into())
            .await
            .unwrap();
        s.second_factors()
            .confirm_authenticator(&other, &app_code(&setup.secret, "now"), &client())
            .await
            .unwrap();
        let step_up_needed = |err: Error| {
            assert_eq!(err.code, ErrorCode::ReauthRequired, "{err:?}");
            assert_eq!(err.reason, Some(latchkey_core::Reason::StepUpRequired));
        };
        step_up_needed(
            s.passwords()
                .change_password(&old, PASSWORD.into(), "a brand new passphrase".into())
                .await
                .unwrap_err(),
        );
        step_up_needed(
            s.passwords()
                .delete_account(&old, PASSWORD.into())
                .await
                .unwrap_err(),
        );
        step_up_needed(
            s.accounts()
                .request_email_change(&old, "elsewhere@example.com", PASSWORD.into(), &client())
                .await
                .unwrap_err(),
        );
        // The session that confirmed the app just proved it.
        s.accounts()
            .request_email_change(&other, "elsewhere@example.com", PASSWORD.into(), &client())
            .await
            .expect("a fresh proof lets the change through");
        // A wrong code does not step up; a right one does.
        assert_eq!(
            code_of(s.second_factors().step_up(&old, "000000", &client()).await),
            ErrorCode::CodeWrong
        );
        s.second_factors()
            .step_up(
                &old,
                &app_code(&setup.secret, "now + 30 seconds"),
                &client(),
            )
            .await
            .unwrap();
        s.passwords()
            .change_password(&old, PASSWORD.into(), "a brand new passphrase".into())
            .await
            .expect("stepped up");
        // Ten minutes later the proof has worn off.
        sqlx::query("UPDATE sessions SET second_factor_at = second_factor_at - 601 WHERE id = $1")
            .bind(&old.session_id)
            .execute(&s.db.pool)
            .await
            .unwrap();
        step_up_needed(
            s.passwords()
                .delete_account(&old, "a brand new passphrase".into())
                .await
                .unwrap_err(),
        );
    }
);

on_both_backends!(an_admin_with_an_app_steps_up_before_acting, |backend| {
    let s = common::services(backend).await;
    let admin = common::make_admin(&s).await;
    let auth = common::auth_of(&s, &admin).await;
    let member = common::sign_up(&s).await;
    let setup = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    s.second_factors()
        .confirm_authenticator(&auth, &app_code(&setup.secret, "now"), &client())
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET second_factor_at = NULL WHERE id = $1")
        .bind(&auth.session_id)
        .execute(&s.db.pool)
        .await
        .unwrap();
    for action in latchkey_core::model::AdminAction::ALL {
        let err = s
            .admin()
            .admin_act(&auth, &member.user.id, action, None)
            .await
            .unwrap_err();
        assert_eq!(
            err.reason,
            Some(latchkey_core::Reason::StepUpRequired),
            "{action:?}"
        );
    }
    assert_eq!(
        s.admin()
            .admin_delete_user(&auth, &member.user.id)
            .await
            .unwrap_err()
            .reason,
        Some(latchkey_core::Reason::StepUpRequired)
    );
    // Where events go, and which apps may sign users in, too.
    let hook = latchkey_core::webhook_model::WebhookSpec {
        url: "https://hooks.example.com/latchkey".into(),
        description: String::new(),
        events: vec![],
        enabled: true,
    };
    assert_eq!(
        s.webhooks().create(&auth, &hook).await.unwrap_err().reason,
        Some(latchkey_core::Reason::StepUpRequired)
    );
    let app = latchkey_core::model::AppSpec {
        name: "Notes".into(),
        logo_url: None,
        redirect_uris: vec!["https://notes.example.com/callback".into()],
        post_logout_redirect_uris: vec![],
        confidential: true,
        scopes: vec!["openid".into()],
        grant_types: vec!["authorization_code".into()],
        first_party: false,
        id_token_alg: None,
        jwks: None,
    };
    assert_eq!(
        s.apps().register(&auth, &app).await.unwrap_err().reason,
        Some(latchkey_core::Reason::StepUpRequired)
    );
    // Reading is not acting.
    s.admin().user_detail(&member.user.id).await.unwrap();
    s.webhooks().list(&auth).await.unwrap();
    s.second_factors()
        .step_up(
            &auth,
            &app_code(&setup.secret, "now + 30 seconds"),
            &client(),
        )
        .await
        .unwrap();
    s.admin()
        .admin_act(
            &auth,
            &member.user.id,
            latchkey_core::model::AdminAction::Disable,
            None,
        )
        .await
        .expect("stepped up");
});

// Someone signed up with another person's address and set up an app: the
// owner proving the mailbox (code sign-in, reset link) takes it away with
// the password.
on_both_backends!(an_app_from_before_the_address_was_proven_goes, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let squatter = common::sign_up(&s).await;
    let auth = common::auth_of(&s, &squatter).await;
    let setup = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    s.second_factors()
        .confirm_authenticator(&auth, &app_code(&setup.secret, "now"), &client())
        .await
        .unwrap();
    common::sign_in_by_code(&s, &inbox, &squatter.email)
        .await
        .expect("the mailbox's owner signs in, without the squatter's app");
    let status = s.second_factors().status(&auth).await.unwrap();
    assert_eq!(status.authenticator_since, None);
    assert_eq!(status.recovery_codes_left, 0);
});

// A stranger who knows the password runs the account's second-factor
// budget down; the owner's browser, which signed in before, has its own.
on_both_backends!(
    a_known_browser_keeps_its_own_second_factor_budget,
    |backend| {
        let s = common::services(backend).await;
        let (account, secret, _) = with_app(&s).await;
        // The owner's browser got a device cookie when it last signed in.
        let device = s
            .accounts()
            .device_token(&account.user.id, &client())
            .await
            .unwrap()
            .expect("a new device cookie");
        let owner = latchkey_core::ClientInfo {
            device: Some(device),
            ..client()
        };
        let stranger = challenge(&s, &account).await;
        for _ in 0..5 {
            assert_eq!(
                code_of(
                    s.second_factors()
                        .complete_sign_in(&stranger, "123456", &client())
                        .await
                ),
                ErrorCode::CodeWrong
            );
        }
        assert_eq!(
            code_of(
                s.second_factors()
                    .complete_sign_in(&stranger, "123456", &client())
                    .await
            ),
            ErrorCode::RateLimited
        );
        let err = s
            .accounts()
            .login(&account.email, PASSWORD.into(), &owner)
            .await
            .unwrap_err();
        let ticket = second_step_of(err);
        s.second_factors()
            .complete_sign_in(&ticket, &app_code(&secret, "now + 30 seconds"), &owner)
            .await
            .expect("the owner's browser is not throttled by the stranger");
    }
);

// Past the day's allowance of wrong codes the second step pauses for the
// rest of the day, and the owner is told someone knows the password.
on_both_backends!(a_day_of_wrong_codes_pauses_and_tells_the_owner, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, AuthConfig::for_tests()).await;
    let (account, secret, _) = with_app(&s).await;
    // The day so far (the doubling waits make reaching it take hours).
    for _ in 1..latchkey_core::second_factor::DAILY_WRONG {
        s.ephemeral
            .count(
                &format!("2fa-day:{}", account.user.id),
                std::time::Duration::from_secs(24 * 3600),
            )
            .await
            .unwrap();
    }
    let ticket = challenge(&s, &account).await;
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&ticket, "123456", &client())
                .await
        ),
        ErrorCode::CodeWrong
    );
    let mail = inbox
        .wait_for_subject(&account.email, "Someone knows your")
        .await;
    assert!(mail.contains("change your password"), "{mail}");
    let right = app_code(&secret, "now + 30 seconds");
    let err = s
        .second_factors()
        .complete_sign_in(&ticket, &right, &client())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited);
    assert!(
        err.retry_after.unwrap() > 3600,
        "paused for the rest of the day"
    );
});
