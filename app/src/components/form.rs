//! Form building blocks: labelled fields with their error tied to them, a
//! form-level alert, and a submit button that shows it is working. Errors
//! arrive as reasons and are shown in the reader's language.

use leptos::prelude::*;
use leptos::text_prop::TextProp;

use crate::error::AppError;
use crate::tr;

/// The latest error of an action, as a signal.
pub fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}

/// `err` in the current language.
pub fn error_text(err: &AppError) -> String {
    err.localized(crate::locale::current())
}

#[component]
pub fn Field(
    #[prop(into)] label: TextProp,
    name: &'static str,
    /// The element's id after `field-`, when two forms on a page share a
    /// field name (default: `name`).
    #[prop(optional)]
    id: Option<&'static str>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional, into)] hint: Option<TextProp>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional, into)] placeholder: Option<TextProp>,
    #[prop(optional)] autofocus: bool,
    #[prop(default = true)] required: bool,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(optional)] maxlength: Option<u32>,
    /// A password field with a Show/Hide button (shown once the page runs
    /// its script: without it the button could do nothing).
    #[prop(optional)]
    revealable: bool,
    /// The form's error; shown here when it names this field.
    #[prop(into)]
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = format!("field-{}", id.unwrap_or(name));
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let invalid = Memo::new(move |_| error.get().is_some_and(|e| e.is_for(name)));
    let message = move || {
        error
            .get()
            .filter(|e| e.is_for(name))
            .map(|e| e.localized(crate::locale::current()))
    };
    let has_hint = hint.is_some();
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if has_hint {
                ids.push(hint_id.clone());
            }
            if invalid.get() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let placeholder = placeholder.map(|p| p.get());
    let shown = RwSignal::new(false);
    let scripted = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| scripted.set(true));
    let kind_now = move || if shown.get() { "text" } else { kind };
    let reveal = revealable.then(|| {
        view! {
            <button
                type="button"
                class="reveal"
                hidden=move || !scripted.get()
                aria-controls=id.clone()
                aria-label=move || if shown.get() {
                    tr!(common.hide_password_label)
                } else {
                    tr!(common.show_password_label)
                }
                on:click=move |_| shown.update(|s| *s = !*s)
            >
                {move || if shown.get() {
                    tr!(common.hide_password)
                } else {
                    tr!(common.show_password)
                }}
            </button>
        }
    });
    view! {
        <div class="field" class:field-invalid=move || invalid.get()>
            <label for=id.clone()>{label.get()}</label>
            <div class="input-row">
            <input
                id=id.clone()
                name=name
                type=kind_now
                autocomplete=autocomplete
                value=value
                placeholder=placeholder
                required=required
                // A page rendered with an error (no JavaScript) opens on it.
                autofocus=autofocus || invalid.get_untracked()
                inputmode=inputmode
                maxlength=maxlength
                aria-invalid=move || invalid.get().then_some("true")
                aria-describedby=described_by
            />
            {reveal}
            </div>
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id>{hint.get()}</p> })}
            <p class="field-error" id=error_id aria-live="polite">
                {message}
            </p>
        </div>
    }
}

/// Errors that belong to no single field. Each form has one, so it also
/// moves the focus when an answer comes back with an error: to the first
/// field in error, else to itself, so keyboard and screen-reader users land
/// on what to fix.
#[component]
pub fn FormAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    let alert = NodeRef::<leptos::html::Div>::new();
    let message = move || {
        error
            .get()
            .filter(|e| e.field.is_none())
            .map(|e| e.localized(crate::locale::current()))
    };
    Effect::watch(
        move || error.get(),
        move |error, _, _| {
            if error.is_none() {
                return;
            }
            // After this render has marked the fields; the form may be gone
            // by then (a page that re-renders after each try).
            request_animation_frame(move || {
                let Some(alert) = alert.try_get_untracked().flatten() else {
                    return;
                };
                let field = alert.closest("form").ok().flatten().and_then(|form| {
                    form.query_selector("[aria-invalid=\"true\"]")
                        .ok()
                        .flatten()
                });
                use leptos::wasm_bindgen::JsCast;
                let target = field.unwrap_or_else(|| alert.into());
                if let Ok(target) = target.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = target.focus();
                }
            });
        },
        false,
    );
    // A change refused for want of a fresh second factor links to the
    // page that gives one, and back here.
    let location = leptos_router::hooks::use_location();
    let step_up = move || {
        error
            .get()
            .filter(|e| e.reason == Some(crate::error::Reason::StepUpRequired))
            .map(|_| {
                let here: String =
                    form_urlencoded::byte_serialize(location.pathname.get().as_bytes()).collect();
                view! {
                    " "
                    <leptos_router::components::A href=format!("/security/confirm?next={here}")>
                        {crate::tr!(step_up.link)}
                    </leptos_router::components::A>
                }
            })
    };
    view! {
        <div class="form-alert" role="alert" tabindex="-1" node_ref=alert hidden=move || message().is_none()>
            {message}
            {step_up}
        </div>
    }
}

/// An error shown on its own (a page that could not load its data).
#[component]
pub fn ErrorNote(error: AppError) -> impl IntoView {
    view! {
        <p class="form-alert" role="alert">{error.localized(crate::locale::current())}</p>
    }
}

#[component]
pub fn Submit(
    #[prop(into)] label: TextProp,
    #[prop(into)] busy_label: TextProp,
    #[prop(into)] pending: Signal<bool>,
    #[prop(default = "button-primary")] class: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=format!("button {class}")
            disabled=move || pending.get()
            aria-busy=move || pending.get().then_some("true")
        >
            {move || if pending.get() { busy_label.get() } else { label.get() }}
        </button>
    }
}
