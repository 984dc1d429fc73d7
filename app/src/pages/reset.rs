//! The reset form. The emailed link (`/reset?token=…`) is answered by the
//! server with a redirect to plain `/reset` and the token in an HttpOnly
//! cookie (see the server's `reset_link`), so this page never shows it.
//! A link that no longer works says why and offers a new one.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::form::{action_error, error_text, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::session::session_action;
use crate::{tr, tr_view};

/// The reset token carried by the cookie.
#[cfg(feature = "ssr")]
fn token() -> String {
    crate::ssr::request::cookie(crate::ssr::cookies::RESET).unwrap_or_default()
}

/// Whether the link works; the account's email when it does (the link's
/// holder received it at that address).
#[server(prefix = "/fn", endpoint = "check_reset_link")]
pub async fn check_reset_link(other_account: bool) -> Result<String, AppError> {
    use crate::ssr::request;
    if other_account {
        return Err(signed_in_elsewhere());
    }
    let email = request::services()?
        .passwords()
        .check_reset_link(&token())
        .await?;
    match request::current_auth() {
        Some(auth) if auth.user.email != email => Err(signed_in_elsewhere()),
        _ => Ok(email),
    }
}

/// The link is for another account than the one signed in here.
#[cfg(feature = "ssr")]
fn signed_in_elsewhere() -> AppError {
    AppError::of(
        crate::error::ErrorCode::Forbidden,
        crate::error::Reason::ResetOtherAccount,
    )
}

#[server(prefix = "/fn", endpoint = "reset_password")]
pub async fn reset_password(password: String, confirm: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    if password != confirm {
        return Err(latchkey_core::Error::invalid(
            "confirm",
            crate::error::Reason::PasswordsDiffer,
        )
        .into());
    }
    let services = request::services()?;
    if let Some(auth) = request::current_auth() {
        if services.passwords().check_reset_link(&token()).await? != auth.user.email {
            return Err(signed_in_elsewhere());
        }
    }
    let answer = request::unless_second_factor(
        services
            .passwords()
            .reset_password(&token(), password, &request::client_info())
            .await,
    )?;
    // The link is spent either way: the password has changed.
    let Some((_, issued)) = answer else {
        request::set_cookies([cookies::reset_token(&services.config, None)]);
        return Ok(());
    };
    let [access, refresh] = cookies::for_session(&services.config, &issued);
    request::set_cookies([
        access,
        refresh,
        cookies::reset_token(&services.config, None),
    ]);
    leptos_axum::redirect("/profile?changed=password");
    Ok(())
}

#[component]
pub fn ResetPage() -> impl IntoView {
    let action = session_action::<ResetPassword>();
    let error = action_error(action);
    let query = leptos_router::hooks::use_query_map();
    let other_account = move || query.read().get("other_account").is_some();
    let link = Resource::new_blocking(other_account, check_reset_link);
    view! {
        <Title text=tr!(reset.title)/>
        <section class="card auth-card">
            <Suspense fallback=move || view! { <p class="muted">{tr!(reset.checking)}</p> }>
                {move || Suspend::new(async move {
                    match link.await {
                        Ok(email) => view! {
                            <h1>{tr!(reset.title)}</h1>
                            <p class="muted">{tr_view!(reset.for_account, email = email.clone(), <b> = <strong data-testid="reset-email"/>)}</p>
                            <ActionForm action=action attr:novalidate=true attr:class="stack">
                                <FormAlert error/>
                                <NewPassword label=tr!(reset.new_password) email=email confirm=true autofocus=true error/>
                                <Submit label=tr!(reset.submit) busy_label=tr!(reset.busy) pending=action.pending()/>
                            </ActionForm>
                        }.into_any(),
                        Err(err) => view! {
                            <h1>{tr!(reset.unusable)}</h1>
                            <p class="form-alert" role="alert" data-testid="reset-link-error">{error_text(&err)}</p>
                            <p><A href="/forgot" attr:class="button button-primary">{tr!(reset.new_link)}</A></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <p class="switch"><A href="/login">{tr!(common.back_to_login)}</A></p>
        </section>
    }
}
