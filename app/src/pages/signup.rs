use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::session::session_action;
use crate::tr;

#[server(prefix = "/fn", endpoint = "signup")]
pub async fn signup(email: String, username: String, password: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let (user, issued) = services
        .signup(&email, &username, password, &request::client_info())
        .await?;
    request::set_session_cookies(&services, &user, &issued).await?;
    leptos_axum::redirect("/verify");
    Ok(())
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = session_action::<Signup>();
    let error = action_error(action);
    view! {
        <Title text=tr!(signup.title)/>
        <RedirectIfSignedIn/>
        <section class="card auth-card">
            <h1>{tr!(signup.heading)}</h1>
            <p class="muted">{tr!(signup.intro)}</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field label=tr!(signup.email) name="email" kind="email" autocomplete="email" autofocus=true error/>
                <Field
                    label=tr!(signup.username)
                    name="username"
                    autocomplete="username"
                    hint=tr!(signup.username_hint)
                    error
                />
                <NewPassword error/>
                <Submit label=tr!(signup.submit) busy_label=tr!(signup.busy) pending=action.pending()/>
            </ActionForm>
            <p class="switch">{tr!(signup.have_account)} " " <A href="/login">{tr!(signup.log_in)}</A></p>
        </section>
    }
}
