//! Authenticator apps and recovery codes, on both deployments. Codes are
//! computed by Debian's `oathtool`, an RFC 6238 implementation nobody here
//! wrote, from the secret the set-up shows.

use crate::common;

use std::process::Command;

use common::{client, smtp, NewAccount, PASSWORD};
use latchkey_core::model::EventKind;
use latchkey_core::{AuthConfig, Error, ErrorCode, Services};

/// The code an authenticator app shows for `secret` at `when` (oathtool's
/// time syntax: `now`, `now + 30 seconds`).
fn app_code(secret: &str, when: &str) -> String {
    let secret: String = secret.split_whitespace().collect();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", &secret, "-N", when])
        .output()
        .expect("oathtool is installed (scripts/tools.sh: apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A signed-up account with a confirmed authenticator app: its secret and
/// recovery codes. Confirming spends the current step's code, so the next
/// sign-in uses the next step's (one step of drift is accepted).
async fn with_app(s: &Services) -> (NewAccount, String, Vec<String>) {
    let account = common::sign_up(s).await;
    let auth = common::auth_of(s, &account).await;
    let setup = s.second_factors().start_authenticator(&auth).await.unwrap();
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
    s.accounts()
        .request_signin_code(&account.email, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&account.email, "sign-in code").await;
    let err = s
        .accounts()
        .signin_with_code(&account.email, &smtp::code_in(&mail), &client())
        .await
        .expect_err("the mailbox alone does not sign in");
    let by_code = second_step_of(err);
    // A reset link sets the password but does not sign in.
    s.passwords()
        .forgot_password(&account.email, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&account.email, "Reset your").await;
    let err = s
        .passwords()
        .reset_password(
            &smtp::reset_token_in(&mail),
            "a brand new passphrase".into(),
            &client(),
        )
        .await
        .expect_err("the link alone does not sign in");
    let by_reset = second_step_of(err);
    // The reset changed the password: the challenge from before it is dead.
    let next = app_code(&secret, "now + 30 seconds");
    assert_eq!(
        code_of(
            s.second_factors()
                .complete_sign_in(&by_code, &next, &client())
                .await
        ),
        ErrorCode::Unauthorized
    );
    s.second_factors()
        .complete_sign_in(&by_reset, &next, &client())
        .await
        .expect("the reset's challenge finishes");
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
        code_of(s.second_factors().start_authenticator(&auth).await),
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
    let first = s.second_factors().start_authenticator(&auth).await.unwrap();
    let second = s.second_factors().start_authenticator(&auth).await.unwrap();
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
