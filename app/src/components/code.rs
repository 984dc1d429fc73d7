//! The 6-digit code input shared by every code screen.

use leptos::html::Form;
use leptos::prelude::*;

use super::form::Field;
use crate::error::AppError;
use crate::tr;

/// A numeric one-time-code field that submits `form` on the sixth digit
/// (typed or pasted). Without JavaScript it is a plain field.
#[component]
pub fn CodeField(
    form: NodeRef<Form>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let on_input = move |ev: leptos::ev::Event| {
        let digits = event_target_value(&ev)
            .chars()
            .filter(char::is_ascii_digit)
            .count();
        if digits == 6 && !pending.get_untracked() {
            if let Some(form) = form.get_untracked() {
                let _ = form.request_submit();
            }
        }
    };
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
            on:input=on_input
        />
    }
}
