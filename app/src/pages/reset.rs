//! The reset form. The emailed link (`/reset?token=…`) is answered by the
//! server with a redirect to plain `/reset` and the token in an HttpOnly
//! cookie (see the server's `reset_link`), so this page never shows it.
//! A link that no longer works says why and offers a new one.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::form::{action_error, FormAlert, Submit};
use crate::components::password::NewPassword;
use crate::error::AppError;
use crate::session::session_action;

/// The reset token carried by the cookie.
#[cfg(feature = "ssr")]
fn token() -> String {
    crate::ssr::request::cookie(crate::ssr::cookies::RESET).unwrap_or_default()
}

/// Whether the link works; the account's email when it does (the link's
/// holder received it at that address).
#[server(prefix = "/fn", endpoint = "check_reset_link")]
pub async fn check_reset_link() -> Result<String, AppError> {
    crate::ssr::request::services()?
        .check_reset_link(&token())
        .await
}

#[server(prefix = "/fn", endpoint = "reset_password")]
pub async fn reset_password(password: String, confirm: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    if password != confirm {
        return Err(AppError::invalid(
            "confirm",
            "The two passwords differ. Type the same one twice.",
        ));
    }
    let services = request::services()?;
    let (_, issued) = services
        .reset_password(&token(), password, &request::client_info())
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
    let action = session_action::<ResetPassword>();
    let error = action_error(action);
    let link = Resource::new_blocking(|| (), |_| check_reset_link());
    view! {
        <Title text="Choose a new password"/>
        <section class="card auth-card">
            <Suspense fallback=|| view! { <p class="muted">"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match link.await {
                        Ok(email) => view! {
                            <h1>"Choose a new password"</h1>
                            <p class="muted">"For " <strong data-testid="reset-email">{email.clone()}</strong>
                                ". Every device signed in to this account will be signed out."</p>
                            <ActionForm action=action attr:novalidate=true attr:class="stack">
                                <FormAlert error/>
                                <NewPassword label="New password" email=email confirm=true autofocus=true error/>
                                <Submit label="Set new password" busy_label="Saving…" pending=action.pending()/>
                            </ActionForm>
                        }.into_any(),
                        Err(err) => view! {
                            <h1>"This link can't be used"</h1>
                            <p class="form-alert" role="alert" data-testid="reset-link-error">{err.message}</p>
                            <p><A href="/forgot" attr:class="button button-primary">"Send me a new link"</A></p>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <p class="switch"><A href="/login">"Back to log in"</A></p>
        </section>
    }
}
