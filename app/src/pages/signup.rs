//! Sign-up, and its code step (`/signup/code`) when the operator hides
//! which addresses have accounts (`SIGNUP_HIDE_EXISTING`).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RedirectIfSignedIn;
use crate::components::code::CodeField;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "signup")]
pub async fn signup(email: String, username: String, password: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let answer = services
        .accounts()
        .sign_up(&email, &username, password, &request::client_info())
        .await?;
    signed_up(&services, answer, "/verify").await
}

/// Sign-up without a password: the account adds a passkey next.
#[server(prefix = "/fn", endpoint = "signup_passkey")]
pub async fn signup_passkey(email: String, username: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let answer = services
        .accounts()
        .sign_up_without_password(&email, &username, &request::client_info())
        .await?;
    signed_up(&services, answer, "/security/passkeys?welcome").await
}

/// Where a sign-up goes next: signed in to `next`, or (addresses hidden)
/// to the mailed code that makes the account.
#[cfg(feature = "ssr")]
async fn signed_up(
    services: &latchkey_core::Services,
    answer: latchkey_core::quiet_signup::SignUp,
    next: &str,
) -> Result<(), AppError> {
    use super::login_code::urlencoding;
    use crate::ssr::{cookies, request};
    use latchkey_core::quiet_signup::SignUp;
    match answer {
        SignUp::Started(user, issued) => {
            request::set_session_cookies(services, &user, &issued).await?;
            leptos_axum::redirect(next);
        }
        SignUp::Pending(pending) => {
            request::set_cookies([cookies::signup_token(
                &services.config,
                Some(&pending.token),
            )]);
            leptos_axum::redirect(&format!(
                "/signup/code?email={}",
                urlencoding(&pending.email)
            ));
        }
    }
    Ok(())
}

#[server(prefix = "/fn", endpoint = "finish_signup")]
pub async fn finish_signup(email: String, code: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let token = request::cookie(cookies::SIGNUP).unwrap_or_default();
    let (user, issued) = services
        .accounts()
        .finish_signup(&email, &code, &token, &request::client_info())
        .await?;
    request::set_cookies([cookies::signup_token(&services.config, None)]);
    request::set_session_cookies(&services, &user, &issued).await?;
    // A passwordless sign-up goes on to add its passkey, as it would have
    // without the code step.
    leptos_axum::redirect(match user.has_password {
        true => "/profile",
        false => "/security/passkeys?welcome",
    });
    Ok(())
}

/// `/signup/code?email=…`: the code that finishes a pending sign-up.
#[component]
pub fn SignupCodePage() -> impl IntoView {
    let confirm = ServerAction::<FinishSignup>::new();
    let error = action_error(confirm);
    let email = move || use_query_map().with(|q| q.get("email")).unwrap_or_default();
    view! {
        <Title text=tr!(signup_code.title)/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>{tr!(signup_code.title)}</h1>
            <p class="muted">
                {move || tr_view!(signup_code.sent, email = email(), <b> = <strong data-testid="signup-email"/>)}
            </p>
            <ActionForm action=confirm attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <input type="hidden" name="email" value=email/>
                <CodeField error/>
                <Submit label=tr!(signup_code.submit) busy_label=tr!(signup_code.busy)/>
            </ActionForm>
            <p class="switch"><A href="/signup">{tr!(signup_code.restart)}</A></p>
        </section>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let passkeys = super::passkeys_enabled();
    match passkeys && use_query_map().with_untracked(|q| q.get("passkey").is_some()) {
        true => view! { <PasskeySignup/> }.into_any(),
        false => view! { <PasswordSignup passkeys/> }.into_any(),
    }
}

#[component]
fn PasswordSignup(passkeys: bool) -> impl IntoView {
    let action = ServerAction::<Signup>::new();
    let error = action_error(action);
    view! {
        <Title text=tr!(signup.title)/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>{tr!(signup.heading)}</h1>
            <p class="muted">{tr!(signup.intro)}</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <AccountFields error/>
                <NewPassword error/>
                <Submit label=tr!(signup.submit) busy_label=tr!(signup.busy)/>
            </ActionForm>
            {passkeys.then(|| view! {
                <p class="switch"><A href="/signup?passkey">{tr!(signup.passkey_instead)}</A></p>
            })}
            <Agreement/>
            <p class="switch">{tr!(signup.have_account)} " " <A href="/login">{tr!(signup.log_in)}</A></p>
        </section>
    }
}

/// What creating an account agrees to, when the operator links terms or a
/// privacy policy (`TERMS_URL`, `PRIVACY_URL`).
#[component]
fn Agreement() -> impl IntoView {
    let brand = crate::brand::current();
    let text = match (brand.terms_url.clone(), brand.privacy_url.clone()) {
        (Some(terms), Some(privacy)) => tr_view!(
            signup.agree_both,
            <terms> = <a href=terms.clone()/>,
            <privacy> = <a href=privacy.clone()/>
        )
        .into_any(),
        (Some(terms), None) => {
            tr_view!(signup.agree_terms, <terms> = <a href=terms.clone()/>).into_any()
        }
        (None, Some(privacy)) => {
            tr_view!(signup.agree_privacy, <privacy> = <a href=privacy.clone()/>).into_any()
        }
        (None, None) => return None,
    };
    Some(view! { <p class="agreement" data-testid="signup-agreement">{text}</p> })
}

/// The address and username every sign-up asks for.
#[component]
fn AccountFields(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <Field label=tr!(signup.email) name="email" kind="email" autocomplete="email" autofocus=true error/>
        <Field
            label=tr!(signup.username)
            name="username"
            autocomplete="username"
            hint=tr!(signup.username_hint)
            error
        />
    }
}

/// `/signup?passkey`: no password; a passkey is added right after.
#[component]
fn PasskeySignup() -> impl IntoView {
    let action = ServerAction::<SignupPasskey>::new();
    let error = action_error(action);
    view! {
        <Title text=tr!(signup.title)/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>{tr!(signup.heading)}</h1>
            <p class="muted">{tr!(signup.passkey_intro)}</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <AccountFields error/>
                <Submit label=tr!(signup.passkey_submit) busy_label=tr!(signup.busy)/>
            </ActionForm>
            <p class="switch"><A href="/signup">{tr!(signup.password_instead)}</A></p>
            <Agreement/>
            <p class="switch">{tr!(signup.have_account)} " " <A href="/login">{tr!(signup.log_in)}</A></p>
        </section>
    }
}
