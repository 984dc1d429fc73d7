//! Delete the account, confirmed by the password.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RequireUser;
use crate::components::form::{action_error, Field, FormAlert};
use crate::error::AppError;
use crate::model::Me;
use crate::session::session_action;

#[server(prefix = "/fn", endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let auth = request::require_auth()?;
    services.delete_account(&auth, password).await?;
    request::set_cookies(cookies::cleared(&services.config));
    leptos_axum::redirect("/?deleted=1");
    Ok(())
}

#[component]
pub fn DeleteAccountPage() -> impl IntoView {
    let action = session_action::<DeleteAccount>();
    view! {
        <Title text="Delete your account"/>
        <RequireUser signed_in=move |me| view! { <DeleteAccountForm me action/> }/>
    }
}

#[component]
fn DeleteAccountForm(me: Me, action: ServerAction<DeleteAccount>) -> impl IntoView {
    let error = action_error(action);
    view! {
        <section class="card auth-card">
            <h1>"Delete your account"</h1>
            <p>"This deletes " <strong>{me.user.username.clone()}</strong> " (" {me.user.email.clone()}
                ") and signs out every device. It cannot be undone."</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <input type="text" name="username" value=me.user.username autocomplete="username" hidden/>
                <Field label="Your password" name="password" kind="password" autocomplete="current-password" autofocus=true error/>
                <button type="submit" class="button button-danger" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Deleting…" } else { "Delete my account" }}
                </button>
            </ActionForm>
            <p class="switch"><A href="/profile">"Keep my account"</A></p>
        </section>
    }
}
