//! Confirm the email address with the 6-digit code we mailed.

use std::time::Duration;

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RequireUser;
use crate::components::code::CodeField;
use crate::components::form::{action_error, FormAlert, Submit};
use crate::error::AppError;
use crate::model::Me;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "verify_email")]
pub async fn verify_email(code: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    services
        .accounts()
        .verify_email(&auth, &code, &request::client_info())
        .await?;
    leptos_axum::redirect("/profile");
    Ok(())
}

/// Sends a new code, and comes back to the page, which says so.
#[server(prefix = "/fn", endpoint = "resend_code")]
pub async fn resend_code() -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    services
        .accounts()
        .send_verification(&auth, &request::client_info())
        .await?;
    leptos_axum::redirect("/verify?resent");
    Ok(())
}

/// Seconds until another code may be sent, for the countdown.
#[server(prefix = "/fn", endpoint = "resend_wait")]
pub async fn resend_wait() -> Result<u64, AppError> {
    use crate::ssr::request;
    use latchkey_core::codes::Purpose;
    let services = request::services()?;
    let auth = request::require_auth()?;
    Ok(services
        .codes()
        .resend_wait(Purpose::VerifyEmail, &auth.user.email)
        .await?)
}

#[component]
pub fn VerifyPage() -> impl IntoView {
    let verify = ServerAction::<VerifyEmail>::new();
    let resend = ServerAction::<ResendCode>::new();
    view! {
        <Title text=tr!(verify.title)/>
        <RequireUser signed_in=move |me| view! { <Verify me verify resend/> }/>
    }
}

#[component]
fn Verify(
    me: Me,
    verify: ServerAction<VerifyEmail>,
    resend: ServerAction<ResendCode>,
) -> impl IntoView {
    if me.user.email_verified {
        return view! {
            <section class="card auth-card">
                <h1>{tr!(verify.title)}</h1>
                <p>{tr!(verify.done)}</p>
                <p><A href="/profile">{tr!(verify.go_profile)}</A></p>
            </section>
        }
        .into_any();
    }
    let error = action_error(verify);
    let email = me.user.email.clone();
    view! {
        <section class="card auth-card">
            <h1>{tr!(verify.title)}</h1>
            <p class="muted">
                {tr_view!(verify.sent, email = email.clone(), <b> = <strong data-testid="verify-email"/>)}
            </p>
            <ActionForm action=verify attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <CodeField error/>
                <Submit label=tr!(verify.submit) busy_label=tr!(verify.busy)/>
            </ActionForm>
            <Resend resend/>
        </section>
    }
    .into_any()
}

/// "Send a new code", with the cooldown counted down on screen.
#[component]
fn Resend(resend: ServerAction<ResendCode>) -> impl IntoView {
    let wait = Resource::new_blocking(|| (), |_| resend_wait());
    let error = action_error(resend);
    // A resend comes back to `/verify?resent`.
    let sent = super::address_says("resent");
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let wait = wait.await.unwrap_or(0);
                view! {
                    <ActionForm action=resend attr:class="stack resend">
                        <FormAlert error/>
                        <ResendButton wait/>
                        <p class="form-success" role="status" aria-live="polite">
                            {sent.then(|| tr!(verify.resent))}
                        </p>
                    </ActionForm>
                }
            })}
        </Suspense>
    }
}

/// The resend button, held until the server's wait is over and counting it
/// down once the page runs its script.
#[island]
fn ResendButton(wait: u64) -> impl IntoView {
    let left = RwSignal::new(wait);
    Effect::new(move |_| {
        let tick = move || left.update(|l| *l = l.saturating_sub(1));
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <button type="submit" class="button button-quiet" disabled=move || { left.get() > 0 }>
            {move || match left.get() {
                0 => tr!(verify.resend).to_owned(),
                n => tr!(verify.resend_in, count = n),
            }}
        </button>
    }
}
