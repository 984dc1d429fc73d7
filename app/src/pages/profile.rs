use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RequireUser;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::model::{Me, Role};
use crate::session::session_action;

#[server(prefix = "/fn", endpoint = "update_username")]
pub async fn update_username(username: String) -> Result<String, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let user = services.update_username(&auth, &username).await?;
    Ok(user.username)
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    // Owned here, not by `Profile`, which re-renders when the session changes.
    let rename = session_action::<UpdateUsername>();
    view! {
        <Title text="Your profile"/>
        <RequireUser signed_in=move |me| view! { <Profile me rename/> }/>
    }
}

#[component]
fn Profile(me: Me, rename: ServerAction<UpdateUsername>) -> impl IntoView {
    let action = rename;
    let error = action_error(action);
    let saved = move || matches!(action.value().get(), Some(Ok(_)));
    let user = me.user;
    let password_changed =
        move || use_query_map().with(|q| q.get("changed").as_deref() == Some("password"));
    view! {
        {move || password_changed().then(|| view! {
            <div class="banner banner-ok" role="status" data-testid="password-changed">
                "Your password was changed. Every other device was signed out."
            </div>
        })}
        {(!user.email_verified).then(|| view! {
            <div class="banner" data-testid="verify-banner">
                "Confirm your email address to secure your account. "
                <A href="/verify">"Enter your code"</A>
            </div>
        })}
        <section class="card">
            <h1>"Your profile"</h1>
            <dl class="facts">
                <div><dt>"Username"</dt><dd data-testid="profile-username">{user.username.clone()}</dd></div>
                <div>
                    <dt>"Email"</dt>
                    <dd>
                        <span data-testid="profile-email">{user.email.clone()}</span>
                        " "
                        <A href="/email" attr:class="inline-link">"Change"</A>
                        {if user.email_verified {
                            view! { <span class="badge badge-ok">"verified"</span> }.into_any()
                        } else {
                            view! { <span class="badge badge-warn">"not verified"</span> }.into_any()
                        }}
                    </dd>
                </div>
                <div><dt>"Role"</dt><dd>{if user.role == Role::Admin { "Administrator" } else { "Member" }}</dd></div>
            </dl>
        </section>
        <section class="card">
            <h2>"Change username"</h2>
            <ActionForm action=action attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field
                    label="New username"
                    name="username"
                    autocomplete="username"
                    value=user.username
                    hint="3–32 characters: letters, digits, '_', '.' or '-'."
                    error
                />
                <Submit label="Save username" busy_label="Saving…" pending=action.pending()/>
                <p class="form-success" role="status" aria-live="polite">
                    {move || saved().then_some("Saved.")}
                </p>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Security"</h2>
            <p class="muted">"Changing your password signs out your other devices."</p>
            <p class="actions">
                <A href="/password" attr:class="button button-quiet">"Change password"</A>
                <A href="/sessions" attr:class="button button-quiet">"Devices and sessions"</A>
                <A href="/security" attr:class="button button-quiet">"Security activity"</A>
            </p>
            <p class="muted" data-testid="signed-in-until">"On this device you stay signed in until "
                {crate::components::time::utc(me.session_expires_at)} "."</p>
        </section>
        <section class="card card-danger">
            <h2>"Delete account"</h2>
            <p class="muted">"Removes your account and signs out every device. This cannot be undone."</p>
            <p><A href="/delete-account" attr:class="button button-danger-quiet">"Delete my account…"</A></p>
        </section>
    }
}
