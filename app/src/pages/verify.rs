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
use crate::session::session_action;
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

/// Sends a new code; answers with the seconds until the next may be sent.
#[server(prefix = "/fn", endpoint = "resend_code")]
pub async fn resend_code() -> Result<u64, AppError> {
    use crate::ssr::request;
    use latchkey_core::codes::Purpose;
    let services = request::services()?;
    let auth = request::require_auth()?;
    services
        .accounts()
        .send_verification(&auth, &request::client_info())
        .await?;
    Ok(services
        .codes()
        .resend_wait(Purpose::VerifyEmail, &auth.user.email)
        .await?)
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
    let verify = session_action::<VerifyEmail>();
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
    let form = NodeRef::<leptos::html::Form>::new();
    let email = me.user.email.clone();
    view! {
        <section class="card auth-card">
            <h1>{tr!(verify.title)}</h1>
            <p class="muted">
                {tr_view!(verify.sent, email = email.clone(), <b> = <strong data-testid="verify-email"/>)}
            </p>
            <ActionForm action=verify node_ref=form attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <CodeField form pending=verify.pending() error/>
                <Submit label=tr!(verify.submit) busy_label=tr!(verify.busy) pending=verify.pending()/>
            </ActionForm>
            <Resend resend/>
        </section>
    }
    .into_any()
}

/// "Send a new code", with the cooldown counted down on screen.
#[component]
fn Resend(resend: ServerAction<ResendCode>) -> impl IntoView {
    let initial = Resource::new_blocking(|| (), |_| resend_wait());
    // None until the countdown starts, so hydration renders what SSR did.
    let left = RwSignal::new(None::<u64>);
    // A completed resend restarts the countdown from what the server says.
    Effect::new(move |_| {
        if let Some(Ok(wait)) = resend.value().get() {
            left.set(Some(wait));
        }
    });
    let error = action_error(resend);
    let sent = move || matches!(resend.value().get(), Some(Ok(_)));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let wait = initial.await.unwrap_or(0);
                // Ticks in the browser only (effects do not run on the server).
                Effect::new(move |_| {
                    let _ = set_interval_with_handle(
                        move || left.update(|l| *l = Some(l.unwrap_or(wait).saturating_sub(1))),
                        Duration::from_secs(1),
                    );
                });
                let remaining = move || left.get().unwrap_or(wait);
                let label = move || match remaining() {
                    0 => tr!(verify.resend).to_owned(),
                    n => tr!(verify.resend_in, count = n),
                };
                let blocked = move || remaining() > 0;
                view! {
                    <ActionForm action=resend attr:class="stack resend">
                        <FormAlert error/>
                        <button
                            type="submit"
                            class="button button-quiet"
                            disabled=move || blocked() || resend.pending().get()
                        >
                            {label}
                        </button>
                        <p class="form-success" role="status" aria-live="polite">
                            {move || sent().then(|| tr!(verify.resent))}
                        </p>
                    </ActionForm>
                }
            })}
        </Suspense>
    }
}
