use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::session::session_action;

#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(login: String, password: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let (_, issued) = services
        .login(&login, password, &request::client_info())
        .await?;
    request::set_cookies(cookies::for_session(&services.config, &issued));
    leptos_axum::redirect("/profile");
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = session_action::<Login>();
    let error = action_error(action);
    view! {
        <Title text="Log in"/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>"Welcome back"</h1>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field label="Email or username" name="login" autocomplete="username" autofocus=true error/>
                <Field label="Password" name="password" kind="password" autocomplete="current-password" error/>
                <p class="field-aside"><A href="/forgot">"Forgot your password?"</A></p>
                <Submit label="Log in" busy_label="Logging in…" pending=action.pending()/>
            </ActionForm>
            <p class="switch"><A href="/login/code">"Email me a sign-in code instead"</A></p>
            <p class="switch">"New here? " <A href="/signup">"Create an account"</A></p>
        </section>
    }
}
