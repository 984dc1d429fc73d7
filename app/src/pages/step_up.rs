//! "Confirm it's you": a fresh code from the authenticator app (or a
//! recovery code) before a change that could hand the account over, when
//! the session last proved its second factor too long ago. The form that
//! was refused links here with its own path in `next`, and the answer goes
//! back there.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RequireUser;
use crate::components::form::{action_error, Field, FormAlert, Submit};
use crate::error::AppError;
use crate::tr;

/// Where to go back to: a path on this site, never another host
/// (`//host`, `/\host`), else the two-step page.
pub fn back_to(next: &str) -> &str {
    latchkey_types::paths::same_site_path(next).unwrap_or("/security/two-step")
}

#[server(prefix = "/fn", endpoint = "step_up")]
pub async fn step_up(code: String, #[server(default)] next: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .second_factors()
        .step_up(&auth, &code, &request::client_info())
        .await?;
    leptos_axum::redirect(back_to(&next));
    Ok(())
}

#[component]
pub fn StepUpPage() -> impl IntoView {
    let action = ServerAction::<StepUp>::new();
    let error = action_error(action);
    let next = move || use_query_map().with(|q| q.get("next")).unwrap_or_default();
    view! {
        <Title text=tr!(step_up.title)/>
        <RequireUser signed_in=move |_| view! {
            <section class="card auth-card">
                <h1>{tr!(step_up.title)}</h1>
                <p class="muted">{tr!(step_up.intro)}</p>
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
                    <Submit label=tr!(step_up.submit) busy_label=tr!(step_up.busy)/>
                </ActionForm>
                <p class="switch"><A href=move || back_to(&next()).to_owned()>{tr!(step_up.back)}</A></p>
            </section>
        }/>
    }
}

#[cfg(test)]
mod tests {
    use super::back_to;

    #[test]
    fn only_paths_on_this_site_are_followed() {
        assert_eq!(back_to("/password"), "/password");
        assert_eq!(back_to("/admin/users/42"), "/admin/users/42");
        for elsewhere in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(back_to(elsewhere), "/security/two-step", "{elsewhere}");
        }
    }
}
