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

/// The current password, asked before a change a borrowed session must not
/// make; an account without one is told its recent sign-in stands in.
#[component]
pub fn CurrentPassword(
    has_password: bool,
    #[prop(into)] label: TextProp,
    /// As [`Field`]'s: the element's id after `field-`.
    id: &'static str,
    #[prop(optional, into)] hint: Option<TextProp>,
    #[prop(optional)] autofocus: bool,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    match (has_password, hint) {
        (false, _) => view! { <p class="muted">{tr!(common.no_password)}</p> }.into_any(),
        (true, Some(hint)) => view! {
            <Field label name="password" id kind="password" revealable=true autocomplete="current-password" hint autofocus error/>
        }
        .into_any(),
        (true, None) => view! {
            <Field label name="password" id kind="password" revealable=true autocomplete="current-password" autofocus error/>
        }
        .into_any(),
    }
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
    /// A password field with a Show/Hide button (an island: shown once the
    /// page runs its script, since without it the button could do nothing).
    #[prop(optional)]
    revealable: bool,
    /// The server function this field's form posts to, when another form
    /// on the page has a field of the same name: a refused post's value
    /// then comes back to its own form only.
    #[prop(optional)]
    posts_to: Option<&'static str>,
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
    let kept = latchkey_types::forms::KEPT_FIELDS.contains(&name);
    debug_assert!(
        !kept
            || !(kind == "password"
                || autocomplete.contains("password")
                || autocomplete == "one-time-code"),
        "a kept field ({name}) must never hold a secret or a code"
    );
    // What this field held when its form was refused, over what the page
    // would fill in.
    #[cfg(feature = "ssr")]
    let value = kept
        .then(|| crate::ssr::kept::value(name, posts_to))
        .flatten()
        .or(value);
    #[cfg(not(feature = "ssr"))]
    let _ = posts_to;
    let reveal = revealable.then(|| view! { <RevealPassword target=id.clone()/> });
    view! {
        <div class="field" class:field-invalid=move || invalid.get()>
            <label for=id.clone()>{label.get()}</label>
            <div class="input-row">
            <input
                id=id.clone()
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                placeholder=placeholder
                required=required
                // A page rendered with an error opens on it.
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
    let message = move || {
        error
            .get()
            .filter(|e| e.field.is_none())
            .map(|e| e.localized(crate::locale::current()))
    };
    // In the browser, the focus goes to what to fix (see `FocusError`).
    let focus = move || error.get().is_some().then(|| view! { <FocusError/> });
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
        <div class="form-alert" role="alert" tabindex="-1" hidden=move || message().is_none()>
            {message}
            {step_up}
        </div>
        {focus}
    }
}

/// An error shown on its own (a page that could not load its data).
#[component]
pub fn ErrorNote(error: AppError) -> impl IntoView {
    view! {
        <p class="form-alert" role="alert">{error.localized(crate::locale::current())}</p>
    }
}

/// A form's submit button. Once the page runs its script it says the form
/// is on its way (`busy_label`) until the answer's page arrives;
/// `SubmitOnce` holds back a second post meanwhile.
#[island]
pub fn Submit(
    #[prop(into)] label: String,
    #[prop(into)] busy_label: String,
    /// Defaults to `button-primary`.
    #[prop(optional, into)]
    class: Option<String>,
) -> impl IntoView {
    let class = class.unwrap_or_else(|| "button-primary".into());
    let busy = RwSignal::new(false);
    let posts = RwSignal::new(0_u64);
    let button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        let Some(form) = button.get().and_then(|b| b.form()) else {
            return;
        };
        let on_submit = window_event_listener_untyped("submit", move |ev| {
            let ours = ev
                .target()
                .is_some_and(|t| t.loose_eq(&form.clone().into()));
            if ev.default_prevented() || !ours {
                return;
            }
            // Numbered, so an earlier post's timer does not end this one.
            posts.update(|n| *n += 1);
            let post = posts.get_untracked();
            busy.set(true);
            set_timeout(
                move || {
                    if posts.get_untracked() == post {
                        busy.set(false);
                    }
                },
                RETRY_AFTER,
            );
        });
        let on_show = window_event_listener(leptos::ev::pageshow, move |ev| {
            if ev.persisted() {
                busy.set(false);
            }
        });
        on_cleanup(move || {
            on_submit.remove();
            on_show.remove();
        });
    });
    view! {
        <button
            type="submit"
            class=format!("button {class}")
            node_ref=button
            aria-disabled=move || busy.get().then_some("true")
        >
            {move || if busy.get() { busy_label.clone() } else { label.clone() }}
        </button>
    }
}

/// How long a posted form waits for its answer's page before it may be
/// posted again (a navigation stopped or lost must not lock it).
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// Every form the page posts goes once: the first submit marks the form
/// `aria-busy` and keeps what was typed (`crate::browser`); another submit
/// of it while the answer is on its way is held back, since it would only
/// post the form again (a second code sent, a session already ended). The
/// form is ready again when the page comes back from the browser's cache,
/// or after `RETRY_AFTER`. Searches (GET) may always go again. One per
/// page, in the shell.
#[island]
pub fn SubmitOnce() -> impl IntoView {
    // Numbers each post, so a post's timer never frees a later one.
    let posts = StoredValue::new(0_u64);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        crate::browser::forget_stale();
        let on_submit = window_event_listener_untyped("submit", move |ev| {
            use leptos::wasm_bindgen::JsCast;
            let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::HtmlFormElement>().ok())
            else {
                return;
            };
            if ev.default_prevented() || form.method() != "post" {
                return;
            }
            if form.has_attribute("aria-busy") {
                ev.prevent_default();
                return;
            }
            posts.update_value(|n| *n += 1);
            let post = posts.get_value().to_string();
            let _ = form.set_attribute("aria-busy", "true");
            let _ = form.set_attribute("data-post", &post);
            #[cfg(feature = "hydrate")]
            crate::browser::keep_values(&form);
            let free = move || {
                if form.get_attribute("data-post").as_deref() == Some(post.as_str()) {
                    let _ = form.remove_attribute("aria-busy");
                }
            };
            set_timeout(free, RETRY_AFTER);
        });
        let on_show = window_event_listener(leptos::ev::pageshow, move |ev| {
            if !ev.persisted() {
                return;
            }
            let Ok(busy) = document().query_selector_all("form[aria-busy]") else {
                return;
            };
            for i in 0..busy.length() {
                use leptos::wasm_bindgen::JsCast;
                if let Some(form) = busy
                    .item(i)
                    .and_then(|f| f.dyn_into::<leptos::web_sys::Element>().ok())
                {
                    let _ = form.remove_attribute("aria-busy");
                }
            }
        });
        on_cleanup(move || {
            on_submit.remove();
            on_show.remove();
        });
    });
}

/// The Show/Hide button of the password input `target` (an element id).
#[island]
pub fn RevealPassword(target: String) -> impl IntoView {
    let shown = RwSignal::new(false);
    // Rendered hidden, and shown once the island wakes: without script the
    // button could do nothing.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    let input = target.clone();
    let toggle = move |_| {
        shown.update(|s| *s = !*s);
        if let Some(el) = document().get_element_by_id(&input) {
            let kind = if shown.get_untracked() {
                "text"
            } else {
                "password"
            };
            let _ = el.set_attribute("type", kind);
        }
    };
    view! {
        <button
            type="button"
            class="reveal"
            hidden=move || !awake.get()
            aria-controls=target
            aria-label=move || if shown.get() {
                tr!(common.hide_password_label)
            } else {
                tr!(common.show_password_label)
            }
            on:click=toggle
        >
            {move || if shown.get() { tr!(common.hide_password) } else { tr!(common.show_password) }}
        </button>
    }
}

/// Rendered beside a form's error: puts the focus on what to fix (the first
/// field in error, else the alert), so keyboard and screen-reader users
/// land on it. The server also marks that field `autofocus`; this covers
/// the alert and pages with another autofocus field above it.
#[island]
pub fn FocusError() -> impl IntoView {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            crate::browser::refill_refused_form();
            crate::browser::forget_error_in_url();
        }
        let doc = document();
        let target = doc
            .query_selector("[aria-invalid=\"true\"]")
            .ok()
            .flatten()
            .or_else(|| {
                doc.query_selector(".form-alert:not([hidden])")
                    .ok()
                    .flatten()
            });
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = target.and_then(|t| t.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    });
}
