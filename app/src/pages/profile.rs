use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RequireUser;
use crate::components::badge::VerifiedBadge;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::components::time::utc;
use crate::error::AppError;
use crate::model::{Me, Role};
use crate::tr;

#[server(prefix = "/fn", endpoint = "update_username")]
pub async fn update_username(username: String) -> Result<String, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let user = services
        .accounts()
        .update_username(&auth, &username)
        .await?;
    // The page says so on its way back (`?saved`).
    leptos_axum::redirect("/profile?saved");
    Ok(user.username)
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    // Owned here, not by `Profile`, which re-renders when the session changes.
    let rename = ServerAction::<UpdateUsername>::new();
    view! {
        <Title text=tr!(profile.title)/>
        <RequireUser signed_in=move |me| view! { <Profile me rename/> }/>
    }
}

#[component]
fn Profile(me: Me, rename: ServerAction<UpdateUsername>) -> impl IntoView {
    let action = rename;
    let error = action_error(action);
    let saved = super::address_says("saved");
    let user = me.user;
    let until = me.session_expires_at;
    let password_changed =
        move || use_query_map().with(|q| q.get("changed").as_deref() == Some("password"));
    view! {
        {move || password_changed().then(|| view! {
            <div class="banner banner-ok" role="status" data-testid="password-changed">
                {tr!(profile.password_changed)}
            </div>
        })}
        {(!user.email_verified).then(|| view! {
            <div class="banner" data-testid="verify-banner">
                {tr!(profile.verify_banner)} " "
                <A href="/verify">{tr!(profile.verify_link)}</A>
            </div>
        })}
        <section class="card">
            <h1>{tr!(profile.title)}</h1>
            <dl class="facts">
                <div><dt>{tr!(profile.username)}</dt><dd data-testid="profile-username">{user.username.clone()}</dd></div>
                <div>
                    <dt>{tr!(profile.email)}</dt>
                    <dd>
                        <span data-testid="profile-email">{user.email.clone()}</span>
                        " "
                        <A href="/email" attr:class="inline-link">{tr!(profile.change)}</A>
                        <VerifiedBadge verified=user.email_verified/>
                    </dd>
                </div>
                <div>
                    <dt>{tr!(profile.role)}</dt>
                    <dd>{if user.role == Role::Admin {
                        tr!(profile.administrator).into_any()
                    } else {
                        tr!(profile.member).into_any()
                    }}</dd>
                </div>
            </dl>
        </section>
        <section class="card">
            <h2>{tr!(profile.change_username)}</h2>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field
                    label=tr!(profile.new_username)
                    name="username"
                    autocomplete="username"
                    value=user.username
                    hint=tr!(signup.username_hint)
                    error
                />
                <Submit label=tr!(profile.save) busy_label=tr!(profile.saving)/>
                <p class="form-success" role="status" aria-live="polite">
                    {saved.then(|| tr!(profile.saved))}
                </p>
            </ActionForm>
        </section>
        <section class="card">
            <h2>{tr!(profile.security)}</h2>
            <p class="muted">{tr!(profile.security_intro)}</p>
            <p class="actions">
                <A href="/password" attr:class="button button-quiet">{tr!(profile.change_password)}</A>
                <A href="/sessions" attr:class="button button-quiet">{tr!(profile.sessions)}</A>
                <A href="/security" attr:class="button button-quiet">{tr!(profile.activity)}</A>
                <A href="/security/two-step" attr:class="button button-quiet">{tr!(profile.two_step)}</A>
                <A href="/security/passkeys" attr:class="button button-quiet">{tr!(security.passkeys)}</A>
            </p>
            <p class="muted" data-testid="signed-in-until">
                {tr!(profile.signed_in_until, time = utc(until, crate::locale::current()))}
            </p>
        </section>
        <section class="card card-danger">
            <h2>{tr!(profile.delete_heading)}</h2>
            <p class="muted">{tr!(profile.delete_intro)}</p>
            <p><A href="/delete-account" attr:class="button button-danger-quiet">{tr!(profile.delete_link)}</A></p>
        </section>
    }
}
