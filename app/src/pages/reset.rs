//! The reset form. The emailed link (`/reset?token=…`) is answered by the
//! server with a redirect to plain `/reset` and the token in an HttpOnly
//! cookie (see the server's `reset_link`), so this page never shows it.
//! A link that no longer works says why and offers a new one.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::form::{action_error, error_text, Field, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::{tr, tr_view};

/// The reset token carried by the cookie.
#[cfg(feature = "ssr")]
fn token() -> String {
    crate::ssr::request::cookie(crate::ssr::cookies::RESET).unwrap_or_default()
}

/// A working link: the account's email (the link's holder received it at
/// that address), and whether the account's authenticator app must give a
/// code with the new password.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ResetLink {
    pub email: String,
    pub needs_code: bool,
}

/// Whether the link works, and for which account.
#[server(prefix = "/fn", endpoint = "check_reset_link")]
pub async fn check_reset_link(other_account: bool) -> Result<ResetLink, AppError> {
    use crate::ssr::request;
    if other_account {
        return Err(signed_in_elsewhere());
    }
    let passwords = request::services()?;
    let passwords = passwords.passwords();
    let email = passwords.check_reset_link(&token()).await?;
    if let Some(auth) = request::current_auth() {
        if auth.user.email != email {
            return Err(signed_in_elsewhere());
        }
    }
    let needs_code = passwords.reset_needs_second_factor(&token()).await?;
    Ok(ResetLink { email, needs_code })
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
pub async fn reset_password(
    password: String,
    confirm: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
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
    let code = Some(code.as_str()).filter(|c| !c.trim().is_empty());
    let (_, issued) = services
        .passwords()
        .reset_password_with(&token(), password, code, &request::client_info())
        .await?;
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
    let action = ServerAction::<ResetPassword>::new();
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
                        Ok(ResetLink { email, needs_code }) => view! {
                            <h1>{tr!(reset.title)}</h1>
                            <p class="muted">{tr_view!(reset.for_account, email = email.clone(), <b> = <strong data-testid="reset-email"/>)}</p>
                            <ActionForm action=action attr:novalidate=true attr:class="stack">
                                <FormAlert error/>
                                <NewPassword label=tr!(reset.new_password) email=email confirm=true autofocus=true error/>
                                {needs_code.then(|| view! {
                                    <Field
                                        label=tr!(reset.code)
                                        name="code"
                                        autocomplete="one-time-code"
                                        // Text, not numeric: a recovery code has letters.
                                        inputmode="text"
                                        maxlength=16
                                        hint=tr!(reset.code_hint)
                                        error
                                    />
                                })}
                                <Submit label=tr!(reset.submit) busy_label=tr!(reset.busy)/>
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
