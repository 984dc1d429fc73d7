//! The second step of signing in to an account with an authenticator app:
//! the first step (password, emailed code, reset link) left its challenge
//! in an HttpOnly cookie (`request::unless_second_factor`), and a code from
//! the app, or a recovery code, finishes it here.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::{AppError, Reason};
use crate::tr;

#[server(prefix = "/fn", endpoint = "second_factor")]
pub async fn second_factor(code: String, #[server(default)] next: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let challenge = request::cookie(cookies::SECOND_FACTOR).unwrap_or_default();
    let (user, issued) = services
        .second_factors()
        .complete_sign_in(&challenge, &code, &request::client_info())
        .await?;
    request::set_cookies([cookies::second_factor(&services.config, None)]);
    request::set_session_cookies(&services, &user, &issued).await?;
    leptos_axum::redirect(request::landing(&next));
    Ok(())
}

#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let action = ServerAction::<SecondFactor>::new();
    let error = action_error(action);
    let next = super::next_page();
    // Back to the first step. While an app's authorization waits (it asked
    // for a fresh sign-in), a browser signed in from before stays there.
    let to_login = super::with_again(
        latchkey_types::paths::with_next("/login", &next),
        super::authorization_waits(),
    );
    // A challenge that expired (or was spent) cannot be tried again.
    let expired = move || {
        error
            .get()
            .is_some_and(|e| e.reason == Some(Reason::SecondFactorExpired))
    };
    view! {
        <Title text=tr!(second_factor.title)/>
        // A browser still signed in from before keeps this page while its
        // challenge waits: an app asked for a fresh sign-in (`prompt=login`).
        {(!super::second_factor_waits()).then(|| view! { <RedirectIfSignedIn/> })}
        <section class="card auth-card">
            <h1>{tr!(second_factor.title)}</h1>
            <p class="muted">{tr!(second_factor.intro)}</p>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <input type="hidden" name="next" value=next/>
                <Field
                    label=tr!(second_factor.code)
                    name="code"
                    autocomplete="one-time-code"
                    // Text, not numeric: a recovery code has letters.
                    inputmode="text"
                    maxlength=16
                    autofocus=true
                    hint=tr!(second_factor.hint)
                    error
                />
                <Submit label=tr!(second_factor.submit) busy_label=tr!(second_factor.busy)/>
            </ActionForm>
            {let to_login = to_login.clone(); move || expired().then(|| view! {
                <p><A href=to_login.clone() attr:class="button button-primary">{tr!(second_factor.again)}</A></p>
            })}
            <p class="switch"><A href=to_login>{tr!(common.back_to_login)}</A></p>
        </section>
    }
}
