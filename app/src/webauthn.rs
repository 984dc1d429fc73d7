//! WebAuthn in the browser, through the JSON forms of its options and
//! answers: the server's options go through
//! `PublicKeyCredential.parse…OptionsFromJSON`, and the answer comes back
//! as `JSON.stringify(credential)` (its `toJSON()`), so no binary plumbing
//! (and none of its code) is in the WASM. Browser-only.

use js_sys::{Function, Object, Promise, Reflect, JSON};
use leptos::prelude::window;
use leptos::wasm_bindgen::{JsCast, JsValue};
use leptos::web_sys::AbortSignal;
use wasm_bindgen_futures::JsFuture;

/// Why a ceremony made no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// This browser has no passkeys (or no JSON forms of their options).
    Unsupported,
    /// The person cancelled, the device refused, or it timed out (or a
    /// newer request aborted this one).
    Cancelled,
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, Failed> {
    Reflect::get(target, &JsValue::from_str(name)).map_err(|_| Failed::Unsupported)
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

fn method(target: &JsValue, name: &str) -> Result<Function, Failed> {
    get(target, name)?
        .dyn_into::<Function>()
        .map_err(|_| Failed::Unsupported)
}

/// `PublicKeyCredential`, if this browser has it.
fn public_key_credential() -> Result<JsValue, Failed> {
    let class = get(&window(), "PublicKeyCredential")?;
    match class.is_undefined() {
        true => Err(Failed::Unsupported),
        false => Ok(class),
    }
}

/// Runs `navigator.credentials.<verb>` with the server's `options` (the
/// JSON `{"publicKey": …}`) parsed by `parser`; answers the credential as
/// JSON.
async fn ceremony(
    verb: &str,
    parser: &str,
    options: &str,
    mediation: Option<&str>,
    signal: Option<&AbortSignal>,
) -> Result<String, Failed> {
    let class = public_key_credential()?;
    let options = JSON::parse(options).map_err(|_| Failed::Unsupported)?;
    let public_key = method(&class, parser)?
        .call1(&class, &get(&options, "publicKey")?)
        .map_err(|_| Failed::Unsupported)?;
    let request = Object::new();
    set(&request, "publicKey", &public_key);
    if let Some(mediation) = mediation {
        set(&request, "mediation", &JsValue::from_str(mediation));
    }
    if let Some(signal) = signal {
        set(&request, "signal", signal);
    }
    let credentials = get(&window().navigator(), "credentials")?;
    let promise = method(&credentials, verb)?
        .call1(&credentials, &request)
        .map_err(|_| Failed::Cancelled)?
        .dyn_into::<Promise>()
        .map_err(|_| Failed::Unsupported)?;
    let credential = JsFuture::from(promise)
        .await
        .map_err(|_| Failed::Cancelled)?;
    if credential.is_null() || credential.is_undefined() {
        return Err(Failed::Cancelled);
    }
    JSON::stringify(&credential)
        .ok()
        .and_then(|json| json.as_string())
        .ok_or(Failed::Unsupported)
}

/// A new passkey, made from the server's creation options.
pub async fn create(options: &str) -> Result<String, Failed> {
    ceremony(
        "create",
        "parseCreationOptionsFromJSON",
        options,
        None,
        None,
    )
    .await
}

/// A passkey's answer to the server's request options: in a dialog, or
/// (`conditional`) from the username field's autofill, until `signal`
/// aborts it.
pub async fn sign_in(
    options: &str,
    conditional: bool,
    signal: Option<&AbortSignal>,
) -> Result<String, Failed> {
    let mediation = conditional.then_some("conditional");
    ceremony(
        "get",
        "parseRequestOptionsFromJSON",
        options,
        mediation,
        signal,
    )
    .await
}

/// Whether the browser offers passkeys in autofill.
pub async fn autofill_available() -> bool {
    let Ok(class) = public_key_credential() else {
        return false;
    };
    let Ok(check) = method(&class, "isConditionalMediationAvailable") else {
        return false;
    };
    let Ok(promise) = check.call0(&class).and_then(|p| p.dyn_into::<Promise>()) else {
        return false;
    };
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// POSTs to `url` (same origin, no body) and answers the JSON body's
/// `ceremony` and `options` (as JSON text), or `None` on any failure.
pub async fn fetch_ceremony(url: &str) -> Option<(String, String)> {
    let init = Object::new();
    set(&init, "method", &JsValue::from_str("POST"));
    set(&init, "credentials", &JsValue::from_str("same-origin"));
    let fetch = method(&window(), "fetch").ok()?;
    let promise = fetch
        .call2(&window(), &JsValue::from_str(url), &init)
        .ok()?
        .dyn_into::<Promise>()
        .ok()?;
    let response = JsFuture::from(promise).await.ok()?;
    if get(&response, "ok").ok()?.as_bool() != Some(true) {
        return None;
    }
    let body = method(&response, "json")
        .ok()?
        .call0(&response)
        .ok()?
        .dyn_into::<Promise>()
        .ok()?;
    let body = JsFuture::from(body).await.ok()?;
    let ceremony = get(&body, "ceremony").ok()?.as_string()?;
    let options = JSON::stringify(&get(&body, "options").ok()?)
        .ok()?
        .as_string()?;
    Some((ceremony, options))
}
