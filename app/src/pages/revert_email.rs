//! `/email/revert`: the link mailed to the old address after an email
//! change. The server moves its token into an HttpOnly cookie and out of
//! the URL first (see the server's `mailed_links`). The page says what
//! changed and offers one button that undoes it (a POST, so a mail scanner
//! fetching the link changes nothing); then `?done=1` says what happened
//! and how to get back in.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::form::{action_error, error_text, FormAlert, Submit};
use crate::error::AppError;
use crate::{tr, tr_view};

/// The revert token carried by the cookie.
#[cfg(feature = "ssr")]
fn token() -> String {
    crate::ssr::request::cookie(crate::ssr::cookies::REVERT).unwrap_or_default()
}

/// The old and the new address, if the link still works.
#[server(prefix = "/fn", endpoint = "check_revert_link")]
pub async fn check_revert_link() -> Result<(String, String), AppError> {
    let pending = crate::ssr::request::services()?
        .accounts()
        .check_revert_link(&token())
        .await?;
    Ok((pending.old_email, pending.new_email))
}

#[server(prefix = "/fn", endpoint = "revert_email_change")]
pub async fn revert_email_change() -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let reverted = services
        .accounts()
        .revert_email_change(&token(), &request::client_info())
        .await?;
    let done = cookies::link_token(&services.config, cookies::REVERT, None, Default::default());
    request::set_cookies([done]);
    // Every session of the account ended, this browser's too if it was
    // signed in to it (another account's session here stays).
    if request::current_auth().is_some_and(|auth| auth.user.id == reverted.user_id) {
        request::set_cookies(cookies::cleared(&services.config));
    }
    leptos_axum::redirect("/email/revert?done=1");
    Ok(())
}

#[component]
pub fn RevertEmailPage() -> impl IntoView {
    let query = use_query_map();
    let done = move || query.read().get("done").is_some();
    view! {
        <Title text=tr!(revert.title)/>
        <section class="card auth-card">
            {move || match done() {
                true => view! { <Reverted/> }.into_any(),
                false => view! { <Offer/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Offer() -> impl IntoView {
    let action = ServerAction::<RevertEmailChange>::new();
    let error = action_error(action);
    let link = Resource::new_blocking(|| (), |_| check_revert_link());
    view! {
        <Suspense fallback=move || view! { <p class="muted">{tr!(revert.checking)}</p> }>
            {move || {
                Suspend::new(async move {
                    match link.await {
                        Ok((old, new)) => view! {
                            <h1>{tr!(revert.title)}</h1>
                            <p>{tr_view!(revert.intro, old = old, new = new, <b> = <strong/>)}</p>
                            <p class="muted">{tr!(revert.explain)}</p>
                            <ActionForm action=action attr:class="stack">
                                <FormAlert error/>
                                <Submit label=tr!(revert.submit) busy_label=tr!(revert.busy) class="button-danger"/>
                            </ActionForm>
                        }.into_any(),
                        Err(err) => view! {
                            <h1>{tr!(revert.unusable)}</h1>
                            <p class="form-alert" role="alert" data-testid="revert-link-error">{error_text(&err)}</p>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn Reverted() -> impl IntoView {
    view! {
        <h1>{tr!(revert.done_title)}</h1>
        <p role="status" data-testid="revert-done">{tr!(revert.done)}</p>
        <p class="muted">{tr!(revert.next)}</p>
        <p><A href="/login/code" attr:class="button button-primary">{tr!(revert.signin)}</A></p>
    }
}
