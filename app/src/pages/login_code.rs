//! Passwordless sign-in: a 6-digit code mailed to the address.

use latchkey_types::paths::with_next;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RedirectIfSignedIn;
use crate::components::code::CodeField;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "request_signin_code")]
pub async fn request_signin_code(
    email: String,
    #[server(default)] next: String,
    #[server(default)] again: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let email = services
        .accounts()
        .request_signin_code(&email, &request::client_info())
        .await?;
    leptos_axum::redirect(&super::with_again(
        with_next(&format!("/login/code?email={}", urlencoding(&email)), &next),
        !again.is_empty(),
    ));
    Ok(())
}

#[server(prefix = "/fn", endpoint = "signin_with_code")]
pub async fn signin_with_code(
    email: String,
    code: String,
    #[server(default)] next: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let Some((user, issued)) = request::unless_second_factor(
        services
            .accounts()
            .signin_with_code(&email, &code, &request::client_info())
            .await,
        &next,
    )?
    else {
        return Ok(());
    };
    request::set_session_cookies(&services, &user, &issued).await?;
    leptos_axum::redirect(request::landing(&next));
    Ok(())
}

/// Percent-encodes a query value (an email address).
pub fn urlencoding(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[component]
pub fn LoginCodePage() -> impl IntoView {
    let request = ServerAction::<RequestSigninCode>::new();
    let confirm = ServerAction::<SigninWithCode>::new();
    let email = move || {
        use_query_map()
            .with(|q| q.get("email"))
            .filter(|e| !e.is_empty())
    };
    // Where the visitor was going when a page asked them to sign in.
    let next = super::next_page();
    // An app asked for a fresh sign-in; a refused try keeps `?again`.
    let again = super::fresh_sign_in_asked();
    let password_login = super::with_again(with_next("/login", &next), again);
    view! {
        <Title text=tr!(login_code.title)/>
        {(!again).then(|| view! { <RedirectIfSignedIn/> })}
        <section class="card auth-card">
            <h1>{tr!(login_code.title)}</h1>
            {move || {
                let next = next.clone();
                match email() {
                    None => view! { <RequestStep request next again/> }.into_any(),
                    Some(email) => view! { <ConfirmStep email confirm next again/> }.into_any(),
                }
            }}
            <p class="switch">{tr!(login_code.prefer_password)} " " <A href=password_login>{tr!(login_code.password_login)}</A></p>
        </section>
    }
}

#[component]
fn RequestStep(
    request: ServerAction<RequestSigninCode>,
    next: String,
    again: bool,
) -> impl IntoView {
    let error = action_error(request);
    view! {
        <p class="muted">{tr!(login_code.intro)}</p>
        <ActionForm action=request attr:novalidate=true attr:class="stack">
            <FormAlert error/>
            <input type="hidden" name="next" value=next/>
            {again.then(|| view! { <input type="hidden" name="again" value="1"/> })}
            <Field label=tr!(login_code.email) name="email" kind="email" autocomplete="email" autofocus=true error/>
            <Submit label=tr!(login_code.send) busy_label=tr!(login_code.sending)/>
        </ActionForm>
    }
}

#[component]
fn ConfirmStep(
    email: String,
    confirm: ServerAction<SigninWithCode>,
    next: String,
    again: bool,
) -> impl IntoView {
    let error = action_error(confirm);
    let other_email = super::with_again(with_next("/login/code", &next), again);
    view! {
        <p class="muted">
            {tr_view!(login_code.sent, email = email.clone(), <b> = <strong data-testid="code-email"/>)}
        </p>
        <ActionForm action=confirm attr:novalidate=true attr:class="stack">
            <FormAlert error/>
            <input type="hidden" name="email" value=email/>
            <input type="hidden" name="next" value=next/>
            <CodeField error/>
            <Submit label=tr!(login_code.submit) busy_label=tr!(login_code.busy)/>
        </ActionForm>
        <p class="switch"><A href=other_email>{tr!(login_code.other_email)}</A></p>
    }
}
