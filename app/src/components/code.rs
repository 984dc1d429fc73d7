//! The 6-digit code input shared by every code screen.

use leptos::prelude::*;

use super::form::Field;
use crate::error::AppError;
use crate::tr;

/// A numeric one-time-code field. Once the page runs its script, the sixth
/// digit (typed or pasted) submits the form; without it, a plain field.
#[component]
pub fn CodeField(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <Field
            label=tr!(code.label)
            name="code"
            autocomplete="one-time-code"
            inputmode="numeric"
            maxlength=6
            autofocus=true
            hint=tr!(code.hint)
            error
        />
        <AutoSubmit field="field-code".to_owned() digits=6/>
    }
}

/// Submits the form of the input `field` (an element id) once it holds
/// `digits` digits. `requestSubmit` goes through the form's submit event,
/// so its button shows it is busy and a second submit is held back.
#[island]
pub fn AutoSubmit(field: String, digits: usize) -> impl IntoView {
    Effect::new(move |_| {
        use leptos::wasm_bindgen::JsCast;
        let Some(input) = document()
            .get_element_by_id(&field)
            .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let typed = input.clone();
        let handle = window_event_listener(leptos::ev::input, move |ev| {
            let from_field = ev.target().is_some_and(|t| typed.loose_eq(&t));
            let filled = typed.value().chars().filter(char::is_ascii_digit).count() == digits;
            if from_field && filled {
                if let Some(form) = typed.form() {
                    let _ = form.request_submit();
                }
            }
        });
        on_cleanup(move || handle.remove());
    });
}
