//! Passwordless sign-in: a 6-digit code mailed to the address.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RedirectIfSignedIn;
use crate::components::code::CodeField;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::session::session_action;

#[server(prefix = "/fn", endpoint = "request_signin_code")]
pub async fn request_signin_code(email: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let email = services
        .request_signin_code(&email, &request::client_info())
        .await?;
    leptos_axum::redirect(&format!("/login/code?email={}", urlencoding(&email)));
    Ok(())
}

#[server(prefix = "/fn", endpoint = "signin_with_code")]
pub async fn signin_with_code(email: String, code: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let (_, issued) = services
        .signin_with_code(&email, &code, &request::client_info())
        .await?;
    request::set_cookies(cookies::for_session(&services.config, &issued));
    leptos_axum::redirect("/profile");
    Ok(())
}

/// Percent-encodes a query value (an email address).
pub fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn LoginCodePage() -> impl IntoView {
    let request = ServerAction::<RequestSigninCode>::new();
    let confirm = session_action::<SigninWithCode>();
    let email = move || {
        use_query_map()
            .with(|q| q.get("email"))
            .filter(|e| !e.is_empty())
    };
    view! {
        <Title text="Sign in with a code"/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>"Sign in with a code"</h1>
            {move || match email() {
                None => view! { <RequestStep request/> }.into_any(),
                Some(email) => view! { <ConfirmStep email confirm/> }.into_any(),
            }}
            <p class="switch">"Prefer your password? " <A href="/login">"Log in with a password"</A></p>
        </section>
    }
}

#[component]
fn RequestStep(request: ServerAction<RequestSigninCode>) -> impl IntoView {
    let error = action_error(request);
    view! {
        <p class="muted">"We will email you a 6-digit code. No password needed."</p>
        <ActionForm action=request attr:novalidate=true attr:class="stack">
            <FormAlert error/>
            <Field label="Email" name="email" kind="email" autocomplete="email" autofocus=true error/>
            <Submit label="Email me a code" busy_label="Sending…" pending=request.pending()/>
        </ActionForm>
    }
}

#[component]
fn ConfirmStep(email: String, confirm: ServerAction<SigninWithCode>) -> impl IntoView {
    let error = action_error(confirm);
    let form = NodeRef::<leptos::html::Form>::new();
    view! {
        <p class="muted">
            "If an account exists for " <strong data-testid="code-email">{email.clone()}</strong>
            ", we sent a 6-digit code to it. It works for 3 minutes."
        </p>
        <ActionForm action=confirm node_ref=form attr:novalidate=true attr:class="stack">
            <FormAlert error/>
            <input type="hidden" name="email" value=email/>
            <CodeField form pending=confirm.pending() error/>
            <Submit label="Sign in" busy_label="Signing in…" pending=confirm.pending()/>
        </ActionForm>
        <p class="switch"><A href="/login/code">"Use a different email"</A></p>
    }
}
