use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::tr;

#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(login: String, password: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let Some((user, issued)) = request::unless_second_factor(
        services
            .accounts()
            .login(&login, password, &request::client_info())
            .await,
    )?
    else {
        return Ok(());
    };
    request::set_session_cookies(&services, &user, &issued).await?;
    leptos_axum::redirect("/profile");
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let error = action_error(action);
    view! {
        <Title text=tr!(login.title)/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>{tr!(login.heading)}</h1>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field label=tr!(login.login) name="login" autocomplete="username" autofocus=true error/>
                <Field label=tr!(login.password) name="password" kind="password" revealable=true autocomplete="current-password" error/>
                <p class="field-aside"><A href="/forgot">{tr!(login.forgot)}</A></p>
                <Submit label=tr!(login.submit) busy_label=tr!(login.busy)/>
            </ActionForm>
            <p class="switch"><A href="/login/code">{tr!(login.code_instead)}</A></p>
            <p class="switch">{tr!(login.new_here)} " " <A href="/signup">{tr!(login.create)}</A></p>
        </section>
    }
}
