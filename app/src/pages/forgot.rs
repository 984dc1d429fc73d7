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

#[server(prefix = "/fn", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    use super::login_code::urlencoding;
    use crate::ssr::request;
    let email = request::services()?
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
        <Title text="Reset your password"/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>"Reset your password"</h1>
            {move || match sent() {
                Some(email) => view! {
                    <div class="notice" role="status" data-testid="reset-sent">
                        <p>"If an account exists for " <strong>{email}</strong>
                            ", we have sent it a link to choose a new password. The link works once, for an hour."</p>
                        <p class="muted">"Nothing there after a few minutes? Check your spam folder, or check the address and try again."</p>
                    </div>
                    <p class="switch"><A href="/forgot">"Try another address"</A></p>
                }.into_any(),
                None => view! {
                    <p class="muted">"Enter the email of your account and we will send you a link to choose a new password."</p>
                    <ActionForm action=action attr:novalidate=true attr:class="stack">
                        <FormAlert error/>
                        <Field label="Email" name="email" kind="email" autocomplete="email" autofocus=true error/>
                        <Submit label="Send reset link" busy_label="Sending…" pending=action.pending()/>
                    </ActionForm>
                }.into_any(),
            }}
            <p class="switch"><A href="/login">"Back to log in"</A></p>
        </section>
    }
}
