use latchkey_types::paths::with_next;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RedirectIfSignedIn;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::components::passkey::{PasskeyFields, PasskeySignIn};
use crate::components::upstream::{UpstreamButtons, UpstreamProblem};
use crate::error::AppError;
use crate::tr;

#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(
    login: String,
    password: String,
    #[server(default)] next: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let Some((user, issued)) = request::unless_second_factor(
        services
            .accounts()
            .login(&login, password, &request::client_info())
            .await,
        &next,
    )?
    else {
        return Ok(());
    };
    request::set_session_cookies(&services, &user, &issued).await?;
    leptos_axum::redirect(request::landing(&next));
    Ok(())
}

/// Signs in with the passkey the browser answered with (the log-in page's
/// passkey form, filled by its island).
#[server(prefix = "/fn", endpoint = "passkey_login")]
pub async fn passkey_login(
    #[server(default)] ceremony: String,
    #[server(default)] credential: String,
    #[server(default)] next: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let (user, issued) = services
        .passkeys()
        .sign_in(&ceremony, &credential, &request::client_info())
        .await?;
    request::set_session_cookies(&services, &user, &issued).await?;
    leptos_axum::redirect(request::landing(&next));
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let error = action_error(action);
    let passkeys = super::passkeys_enabled();
    // Where the visitor was going when a page asked them to sign in.
    let next = super::next_page();
    // Autofill offers the device's passkeys in the name field too.
    let login_autocomplete = match passkeys {
        true => "username webauthn",
        false => "username",
    };
    let passkey_form = passkeys.then(|| view! { <PasskeyForm next=next.clone()/> });
    // An app asked for a fresh sign-in; a refused try keeps `?again`.
    let again = super::fresh_sign_in_asked();
    let code_instead = super::with_again(with_next("/login/code", &next), again);
    let upstream_next = Some(next.clone());
    // A refused try brings the login back: the password is what to type.
    let login_kept = super::kept("login");
    // Says why the log-in page came instead of the one opened, when the
    // sign-in goes on to it.
    let lands = super::sign_in_lands(&next);
    let for_page = latchkey_types::paths::elsewhere(&lands).is_some().then(|| {
        view! { <p class="muted" role="status" data-testid="login-for-page">{tr!(login.for_page)}</p> }
    });
    view! {
        <Title text=tr!(login.title)/>
        {(!again).then(|| view! { <RedirectIfSignedIn/> })}
        <section class="card auth-card">
            <h1>{tr!(login.heading)}</h1>
            {for_page}
            <UpstreamProblem/>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <input type="hidden" name="next" value=next/>
                <Field label=tr!(login.login) name="login" autocomplete=login_autocomplete autofocus=!login_kept error/>
                <Field label=tr!(login.password) name="password" kind="password" revealable=true autocomplete="current-password" autofocus=login_kept error/>
                <p class="field-aside"><A href="/forgot">{tr!(login.forgot)}</A></p>
                <Submit label=tr!(login.submit) busy_label=tr!(login.busy)/>
            </ActionForm>
            {passkey_form}
            <UpstreamButtons next=upstream_next/>
            <p class="switch"><A href=code_instead>{tr!(login.code_instead)}</A></p>
            <p class="switch">{tr!(login.new_here)} " " <A href="/signup">{tr!(login.create)}</A></p>
        </section>
    }
}

/// "Sign in with a passkey": a form its island fills with the browser's
/// answer and posts.
#[component]
fn PasskeyForm(next: String) -> impl IntoView {
    let action = ServerAction::<PasskeyLogin>::new();
    let error = action_error(action);
    view! {
        <p class="divider" aria-hidden="true"><span>{tr!(login.or)}</span></p>
        <ActionForm action=action attr:novalidate=true attr:class="stack passkey-form">
            <FormAlert error/>
            <input type="hidden" name="next" value=next/>
            <PasskeyFields ceremony=true/>
            <PasskeySignIn label=tr!(login.passkey) busy_label=tr!(login.passkey_busy)/>
        </ActionForm>
    }
}
