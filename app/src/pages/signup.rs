use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::session::session_action;

#[server(prefix = "/fn", endpoint = "signup")]
pub async fn signup(email: String, username: String, password: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let (_, issued) = services
        .signup(&email, &username, password, &request::client_info())
        .await?;
    request::set_cookies(cookies::for_session(&services.config, &issued));
    leptos_axum::redirect("/verify");
    Ok(())
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = session_action::<Signup>();
    let error = action_error(action);
    view! {
        <Title text="Sign up"/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>"Create your account"</h1>
            <p class="muted">"It takes a minute. We will email you a code to confirm your address."</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field label="Email" name="email" kind="email" autocomplete="email" autofocus=true error/>
                <Field
                    label="Username"
                    name="username"
                    autocomplete="username"
                    hint="3–32 characters: letters, digits, '_', '.' or '-'."
                    error
                />
                <NewPassword error/>
                <Submit label="Create account" busy_label="Creating account…" pending=action.pending()/>
            </ActionForm>
            <p class="switch">"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}
