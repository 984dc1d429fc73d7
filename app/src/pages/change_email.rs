//! Change the account's email: after a fresh proof of identity (the
//! password) a code goes to the new address, and the address changes only
//! once that code checks; the old address is then mailed a link that
//! undoes it (`/email/revert`, in `revert_email`).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RequireUser;
use crate::components::code::CodeField;
use crate::components::form::{action_error, CurrentPassword, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::model::Me;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "request_email_change")]
pub async fn request_email_change(
    new_email: String,
    #[server(default)] password: String,
) -> Result<(), AppError> {
    use super::login_code::urlencoding;
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let new_email = services
        .accounts()
        .request_email_change(&auth, &new_email, password, &request::client_info())
        .await?;
    leptos_axum::redirect(&format!("/email?new={}", urlencoding(&new_email)));
    Ok(())
}

#[server(prefix = "/fn", endpoint = "confirm_email_change")]
pub async fn confirm_email_change(new_email: String, code: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    services
        .accounts()
        .confirm_email_change(&auth, &new_email, &code, &request::client_info())
        .await?;
    leptos_axum::redirect("/profile");
    Ok(())
}

#[component]
pub fn ChangeEmailPage() -> impl IntoView {
    let request = ServerAction::<RequestEmailChange>::new();
    let confirm = ServerAction::<ConfirmEmailChange>::new();
    view! {
        <Title text=tr!(email_change.title)/>
        <RequireUser signed_in=move |me| view! { <ChangeEmail me request confirm/> }/>
    }
}

#[component]
fn ChangeEmail(
    me: Me,
    request: ServerAction<RequestEmailChange>,
    confirm: ServerAction<ConfirmEmailChange>,
) -> impl IntoView {
    let new_email = move || {
        use_query_map()
            .with(|q| q.get("new"))
            .filter(|e| !e.is_empty())
    };
    let request_error = action_error(request);
    let confirm_error = action_error(confirm);
    view! {
        <section class="card auth-card">
            <h1>{tr!(email_change.title)}</h1>
            {move || match new_email() {
                None => view! {
                    <p class="muted">{tr_view!(email_change.now, email = me.user.email.clone(), <b> = <strong/>)}</p>
                    <ActionForm action=request attr:novalidate=true attr:class="stack">
                        <FormAlert error=request_error/>
                        <Field label=tr!(email_change.new_email) name="new_email" kind="email" autocomplete="email" autofocus=true error=request_error/>
                        <CurrentPassword has_password=me.user.has_password label=tr!(email_change.password) id="password" hint=tr!(email_change.password_hint) error=request_error/>
                        <p class="muted">{tr!(email_change.notice)}</p>
                        <Submit label=tr!(email_change.send) busy_label=tr!(email_change.sending)/>
                    </ActionForm>
                }.into_any(),
                Some(new_email) => view! {
                    <p class="muted">{tr_view!(email_change.sent, email = new_email.clone(), <b> = <strong data-testid="new-email"/>)}</p>
                    <ActionForm action=confirm attr:novalidate=true attr:class="stack">
                        <FormAlert error=confirm_error/>
                        <input type="hidden" name="new_email" value=new_email/>
                        <CodeField error=confirm_error/>
                        <Submit label=tr!(email_change.submit) busy_label=tr!(email_change.busy)/>
                    </ActionForm>
                    <p class="switch"><A href="/email">{tr!(email_change.other)}</A></p>
                }.into_any(),
            }}
            <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
        </section>
    }
}
