//! Delete the account, confirmed by the password (or, without one, a recent sign-in).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RequireUser;
use crate::components::form::{action_error, CurrentPassword, FormAlert, Submit};
use crate::error::AppError;
use crate::model::Me;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "delete_account")]
pub async fn delete_account(#[server(default)] password: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let auth = request::require_auth()?;
    services.passwords().delete_account(&auth, password).await?;
    request::set_cookies(cookies::cleared(&services.config));
    leptos_axum::redirect("/?deleted=1");
    Ok(())
}

#[component]
pub fn DeleteAccountPage() -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    view! {
        <Title text=tr!(delete.title)/>
        <RequireUser signed_in=move |me| view! { <DeleteAccountForm me action/> }/>
    }
}

#[component]
fn DeleteAccountForm(me: Me, action: ServerAction<DeleteAccount>) -> impl IntoView {
    let error = action_error(action);
    view! {
        <section class="card auth-card">
            <h1>{tr!(delete.title)}</h1>
            <p>{tr_view!(delete.warning, username = me.user.username.clone(), email = me.user.email.clone(), <b> = <strong/>)}</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <input type="text" name="username" value=me.user.username autocomplete="username" hidden/>
                <CurrentPassword has_password=me.user.has_password label=tr!(delete.password) id="password" autofocus=true error/>
                <Submit
                    label=tr!(delete.submit)
                    busy_label=tr!(delete.busy)
                    class="button-danger"
                />
            </ActionForm>
            <p class="switch"><A href="/profile">{tr!(delete.keep)}</A></p>
        </section>
    }
}
