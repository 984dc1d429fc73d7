//! "Forgot your password?": ask for a reset link. The answer is the same
//! whether or not the address has an account.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    use super::login_code::urlencoding;
    use crate::ssr::request;
    let email = request::services()?
        .passwords()
        .forgot_password(&email, &request::client_info())
        .await?;
    leptos_axum::redirect(&format!("/forgot?sent={}", urlencoding(&email)));
    Ok(())
}

#[component]
pub fn ForgotPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let error = action_error(action);
    let sent = move || {
        use_query_map()
            .with(|q| q.get("sent"))
            .filter(|e| !e.is_empty())
    };
    view! {
        <Title text=tr!(forgot.title)/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>{tr!(forgot.title)}</h1>
            {move || match sent() {
                Some(email) => view! {
                    <div class="notice" role="status" data-testid="reset-sent">
                        <p>{tr_view!(forgot.sent, email = email.clone(), <b> = <strong/>)}</p>
                        <p class="muted">{tr!(forgot.spam)}</p>
                    </div>
                    <p class="switch"><A href="/forgot">{tr!(forgot.other)}</A></p>
                }.into_any(),
                None => view! {
                    <p class="muted">{tr!(forgot.intro)}</p>
                    <ActionForm action=action attr:novalidate=true attr:class="stack">
                        <FormAlert error/>
                        <Field label=tr!(forgot.email) name="email" kind="email" autocomplete="email" autofocus=true error/>
                        <Submit label=tr!(forgot.submit) busy_label=tr!(forgot.busy)/>
                    </ActionForm>
                }.into_any(),
            }}
            <p class="switch"><A href="/login">{tr!(common.back_to_login)}</A></p>
        </section>
    }
}
