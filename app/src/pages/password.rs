//! Change password (signed in, knowing the current one).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RequireUser;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::model::Me;
use crate::tr;

#[server(prefix = "/fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    if new_password != confirm {
        return Err(latchkey_core::Error::invalid(
            "confirm",
            crate::error::Reason::PasswordsDiffer,
        )
        .into());
    }
    services
        .passwords()
        .change_password(&auth, current_password, new_password)
        .await?;
    leptos_axum::redirect("/profile?changed=password");
    Ok(())
}

#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    view! {
        <Title text=tr!(password.title)/>
        <RequireUser signed_in=move |me| view! { <ChangePasswordForm me action/> }/>
    }
}

#[component]
fn ChangePasswordForm(me: Me, action: ServerAction<ChangePassword>) -> impl IntoView {
    let error = action_error(action);
    view! {
        <section class="card auth-card">
            <h1>{tr!(password.title)}</h1>
            <p class="muted">{tr!(password.intro)}</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                // Lets password managers file the new password under the right account.
                <input type="text" name="username" value=me.user.username.clone() autocomplete="username" hidden/>
                <Field label=tr!(password.current) name="current_password" kind="password" revealable=true autocomplete="current-password" autofocus=true error/>
                <NewPassword label=tr!(password.new_password) name="new_password" email=me.user.email username=me.user.username confirm=true error/>
                <Submit label=tr!(password.submit) busy_label=tr!(password.busy)/>
            </ActionForm>
            <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
        </section>
    }
}
