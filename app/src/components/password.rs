//! Choosing a new password: the field, a repeat of it, and a live strength
//! meter. The meter asks the server, which runs the very rules sign-up,
//! reset and change apply (and keeps zxcvbn's dictionaries out of the WASM).

use std::time::Duration;

use leptos::prelude::*;

use crate::components::form::Field;
use crate::error::AppError;
use crate::model::Strength;

#[server(prefix = "/fn", endpoint = "password_strength")]
pub async fn password_strength(
    password: String,
    email: String,
    username: String,
) -> Result<Strength, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    // A signed-in user changing their password is measured against their own
    // identifiers even though the form does not show them.
    let (email, username) = match request::current_auth() {
        Some(auth) if email.is_empty() && username.is_empty() => {
            (auth.user.email, auth.user.username)
        }
        _ => (email, username),
    };
    Ok(services.password_strength(&password, &email, &username))
}

const LABELS: [&str; 5] = ["Very weak", "Weak", "Fair", "Good", "Strong"];

/// A new-password field with its meter and a field to repeat it.
/// `name` is the password field's name; the repeat is always `confirm`.
/// `email`/`username` are the account's, when the form does not ask for them.
#[component]
pub fn NewPassword(
    #[prop(default = "Password")] label: &'static str,
    #[prop(default = "password")] name: &'static str,
    #[prop(optional, into)] email: Option<String>,
    #[prop(optional, into)] username: Option<String>,
    /// Show the "repeat" field (reset and change; sign-up lets you reveal instead).
    #[prop(optional)]
    confirm: bool,
    #[prop(optional)] autofocus: bool,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let reading = RwSignal::new(None::<Strength>);
    let typed = RwSignal::new(0_u64);
    let identity = StoredValue::new((email.unwrap_or_default(), username.unwrap_or_default()));

    // Debounced: one request once typing pauses; late answers are dropped.
    let on_input = move |ev: leptos::ev::Event| {
        let password = event_target_value(&ev);
        let ticket = typed.get_untracked() + 1;
        typed.set(ticket);
        if password.is_empty() {
            reading.set(None);
            return;
        }
        // Sign-up asks for email and username in the same form.
        let field = |name: &str| {
            use leptos::wasm_bindgen::JsCast;
            document()
                .get_element_by_id(&format!("field-{name}"))
                .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
                .map(|el| el.value())
        };
        let (known_email, known_username) = identity.get_value();
        let email = field("email").unwrap_or(known_email);
        let username = field("username").unwrap_or(known_username);
        // The form may be gone by then (submitted, navigated away): the
        // signals are then disposed, and `try_` lets the late call pass.
        set_timeout(
            move || {
                if typed.try_get_untracked() != Some(ticket) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let result = password_strength(password, email, username).await;
                    if typed.try_get_untracked() == Some(ticket) {
                        reading.try_set(result.ok());
                    }
                });
            },
            Duration::from_millis(250),
        );
    };

    let score = move || reading.get().map(|s| s.score).unwrap_or(0);
    view! {
        <div class="new-password" on:input=on_input>
            <Field
                label=label
                name=name
                kind="password"
                autocomplete="new-password"
                autofocus=autofocus
                hint="At least 8 characters. A few unrelated words make a strong one."
                error
            />
            <div class="meter" data-testid="strength" data-score=move || reading.get().map(|s| s.score.to_string())
                hidden=move || reading.get().is_none()>
                <div class="meter-bar" aria-hidden="true">
                    {(1..=4).map(|n| view! { <span class:on=move || { score() >= n }></span> }).collect_view()}
                </div>
                <p class="meter-text" aria-live="polite">
                    {move || reading.get().map(|s| {
                        let verdict = if s.acceptable { LABELS[s.score.min(4) as usize] } else { "Not allowed" };
                        view! {
                            <strong>{verdict}</strong>
                            {s.message.map(|m| view! { " — " {m} })}
                            {s.suggestions.first().cloned().map(|tip| view! { <span class="meter-tip">" " {tip}</span> })}
                        }
                    })}
                </p>
            </div>
        </div>
        {confirm.then(|| view! {
            <Field label="Repeat the new password" name="confirm" kind="password" autocomplete="new-password" error/>
        })}
    }
}
