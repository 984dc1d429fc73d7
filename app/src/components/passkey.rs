//! Passkey buttons. The browser's half of a ceremony runs here (see
//! `webauthn.rs`); the server's half is a plain form post with the answer
//! in a hidden field, so every outcome comes back as the page's own, in
//! the reader's language. Without script the buttons post the form empty,
//! and the answer says passkeys need JavaScript.

use leptos::prelude::*;

/// The ids of the hidden fields a passkey form carries.
pub const CEREMONY_FIELD: &str = "passkey-ceremony";
pub const CREDENTIAL_FIELD: &str = "passkey-credential";

/// The hidden fields of a passkey form: the ceremony (sign-in only) and
/// the browser's answer.
#[component]
pub fn PasskeyFields(#[prop(optional)] ceremony: bool) -> impl IntoView {
    view! {
        {ceremony.then(|| view! { <input type="hidden" name="ceremony" id=CEREMONY_FIELD value=""/> })}
        <input type="hidden" name="credential" id=CREDENTIAL_FIELD value=""/>
    }
}

/// Puts the answer in the form of `button` and posts it. An empty answer
/// posts the form as it is, for the server to say why there is none.
#[cfg(feature = "hydrate")]
fn post(button: &leptos::web_sys::HtmlButtonElement, ceremony: &str, credential: &str) {
    use leptos::wasm_bindgen::JsCast;
    let Some(form) = button.form() else {
        return;
    };
    for (id, value) in [(CEREMONY_FIELD, ceremony), (CREDENTIAL_FIELD, credential)] {
        if let Some(input) = document()
            .get_element_by_id(id)
            .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
        {
            input.set_value(value);
        }
    }
    let _ = form.request_submit();
}

/// "Sign in with a passkey", and the passkeys the browser offers in the
/// username field's autofill (conditional mediation), both from one
/// ceremony fetched when the page wakes. The button aborts the autofill's
/// request and asks in a dialog.
#[island]
pub fn PasskeySignIn(
    #[prop(into)] label: String,
    #[prop(into)] busy_label: String,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    let flow = sign_in::Flow::new(button, busy);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| flow.wake());
    let on_click = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        if !busy.get_untracked() {
            flow.ask();
        }
    };
    view! {
        <button
            type="submit"
            class="button button-quiet passkey-button"
            node_ref=button
            on:click=on_click
            aria-disabled=move || busy.get().then_some("true")
        >
            {move || if busy.get() { busy_label.clone() } else { label.clone() }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod sign_in {
    use std::time::Duration;

    use leptos::prelude::*;
    use leptos::web_sys::AbortController;

    use crate::webauthn::{self, Failed};

    const OPTIONS_URL: &str = "/api/v1/auth/passkey/options";
    /// How long a ceremony is used before a fresh one replaces it: the
    /// server takes answers to one for 5 minutes, and a visitor may leave
    /// the page open for longer before picking a passkey.
    const FRESH_FOR: Duration = Duration::from_secs(240);
    /// After a failed fetch (a network blip, a restart), when to try again;
    /// the ceremony in hand stays meanwhile.
    const RETRY_AFTER: Duration = Duration::from_secs(30);

    /// The page's one ceremony, and the autofill request waiting on it.
    #[derive(Clone, Copy)]
    pub struct Flow {
        button: NodeRef<leptos::html::Button>,
        busy: RwSignal<bool>,
        ceremony: StoredValue<Option<(String, String)>, LocalStorage>,
        /// When the ceremony was fetched (`Date.now()`, ms).
        fetched_at: StoredValue<f64>,
        /// Bumped by each renewal, so a timer set by an older one (a tab
        /// that slept, then woke and renewed) does nothing.
        generation: StoredValue<u32>,
        pending: StoredValue<Option<AbortController>, LocalStorage>,
        autofill: StoredValue<bool>,
    }

    impl Flow {
        pub fn new(button: NodeRef<leptos::html::Button>, busy: RwSignal<bool>) -> Self {
            Self {
                button,
                busy,
                ceremony: StoredValue::new_local(None),
                fetched_at: StoredValue::new(0.0),
                generation: StoredValue::new(0),
                pending: StoredValue::new_local(None),
                autofill: StoredValue::new(false),
            }
        }

        /// Fetches the ceremony and, where the browser can, offers passkeys
        /// in autofill; not on the answer to a refused one, which would
        /// only be refused again. Timers stop while a laptop sleeps or a
        /// tab is in the background: coming back to the page renews a
        /// ceremony that went stale meanwhile.
        pub fn wake(self) {
            leptos::task::spawn_local(async move {
                let autofill = !self.refused() && webauthn::autofill_available().await;
                self.autofill.set_value(autofill);
                self.renew().await;
            });
            // Kept for the page's life, as the island is (the handle only
            // removes the listener when asked).
            _ = window_event_listener(leptos::ev::focus, move |_| {
                if self.stale() && !self.busy.get_untracked() {
                    leptos::task::spawn_local(self.renew());
                }
            });
        }

        /// Takes a fresh ceremony (and offers it in autofill), and again
        /// before it expires. An open dialog keeps the one it started with.
        async fn renew(self) {
            let generation = self.generation.get_value().wrapping_add(1);
            self.generation.set_value(generation);
            let fetched = webauthn::fetch_ceremony(OPTIONS_URL).await;
            if self.generation.get_value() != generation {
                return;
            }
            let next = match fetched {
                Some(ceremony) => {
                    self.ceremony.set_value(Some(ceremony));
                    self.fetched_at.set_value(js_sys::Date::now());
                    if !self.busy.get_untracked() {
                        self.offer();
                    }
                    FRESH_FOR
                }
                None => RETRY_AFTER,
            };
            set_timeout(
                move || {
                    if self.generation.get_value() == generation {
                        leptos::task::spawn_local(self.renew());
                    }
                },
                next,
            );
        }

        fn stale(self) -> bool {
            js_sys::Date::now() - self.fetched_at.get_value() > FRESH_FOR.as_millis() as f64
        }

        /// Offers the ceremony in autofill, where the browser can.
        fn offer(self) {
            if self.autofill.get_value() {
                self.run(true);
            }
        }

        /// Whether the form came back with an error.
        fn refused(self) -> bool {
            self.button
                .get_untracked()
                .and_then(|button| button.form())
                .and_then(|form| form.query_selector("[role=alert]").ok().flatten())
                .and_then(|alert| alert.text_content())
                .is_some_and(|text| !text.trim().is_empty())
        }

        /// The button: a dialog, in place of the autofill's request, on a
        /// ceremony fresh enough to be answered.
        pub fn ask(self) {
            self.busy.set(true);
            match self.stale() {
                true => leptos::task::spawn_local(async move {
                    self.renew().await;
                    self.run(false);
                }),
                false => self.run(false),
            }
        }

        fn abort(self) {
            if let Some(controller) = self.pending.get_value() {
                controller.abort();
            }
        }

        fn run(self, conditional: bool) {
            self.abort();
            let Some(button) = self.button.get_untracked() else {
                return;
            };
            let Some((ceremony, options)) = self.ceremony.get_value() else {
                // No ceremony (passkeys off here, or too many asked for):
                // asked by the button, the empty post comes back with the
                // reason.
                if !conditional {
                    post_empty(&button);
                }
                return;
            };
            let Ok(controller) = AbortController::new() else {
                return;
            };
            let signal = controller.signal();
            self.pending.set_value(Some(controller));
            leptos::task::spawn_local(async move {
                match webauthn::sign_in(&options, conditional, Some(&signal)).await {
                    Ok(credential) => super::post(&button, &ceremony, &credential),
                    Err(Failed::Unsupported) if !conditional => post_empty(&button),
                    // Cancelled in the dialog: autofill offers them again.
                    Err(_) if !conditional => {
                        self.busy.set(false);
                        self.offer();
                    }
                    Err(_) => {}
                }
            });
        }
    }

    fn post_empty(button: &leptos::web_sys::HtmlButtonElement) {
        super::post(button, "", "");
    }
}

/// "Create the passkey": makes it on this device from the options the
/// server keeps for this session, and posts it. Cancelling leaves the
/// ceremony open to try again.
#[island]
pub fn PasskeyCreate(
    options: String,
    #[prop(into)] label: String,
    #[prop(into)] busy_label: String,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    // Only the browser makes passkeys.
    #[cfg(not(feature = "hydrate"))]
    let _ = options;
    let on_click = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let Some(element) = button.get_untracked().filter(|_| !busy.get_untracked()) else {
                return;
            };
            busy.set(true);
            let options = options.clone();
            leptos::task::spawn_local(async move {
                match crate::webauthn::create(&options).await {
                    Ok(credential) => post(&element, "", &credential),
                    Err(crate::webauthn::Failed::Unsupported) => post(&element, "", ""),
                    Err(crate::webauthn::Failed::Cancelled) => busy.set(false),
                }
            });
        }
    };
    view! {
        <button
            type="submit"
            class="button button-primary"
            node_ref=button
            on:click=on_click
            aria-disabled=move || busy.get().then_some("true")
        >
            {move || if busy.get() { busy_label.clone() } else { label.clone() }}
        </button>
    }
}
