//! What the islands do to the page around them. A form is posted like any
//! form, and a refused one comes back as a new page with its error; these
//! keep what the person typed and tidy the address. Browser-only.

use leptos::prelude::{document, window};
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{HtmlFormElement, HtmlInputElement};

/// How long kept values wait for their form's page (the post and its answer).
const KEEP_MS: u64 = 60_000;

/// Milliseconds since the epoch, whole (float formatting would add its
/// code to the module).
fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// The values of an entry (`<millis>|<form-encoded values>`) still waiting
/// for their page.
fn fresh(kept: &str) -> Option<&str> {
    let (at, values) = kept.split_once('|')?;
    let at = at.parse::<u64>().ok()?;
    (now().saturating_sub(at) <= KEEP_MS).then_some(values)
}

fn key(form: &HtmlFormElement) -> Option<String> {
    form.get_attribute("action")
        .map(|action| format!("latchkey-kept:{action}"))
}

/// The inputs whose values are worth keeping: what a person typed, never a
/// password, a hidden field or a one-time code.
fn typed_inputs(form: &HtmlFormElement) -> Vec<HtmlInputElement> {
    let Ok(list) = form.query_selector_all("input[name]") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<HtmlInputElement>().ok())
        .filter(|input| {
            matches!(
                input.type_().as_str(),
                "text" | "email" | "search" | "tel" | "url"
            ) && input.autocomplete() != "one-time-code"
        })
        .collect()
}

/// Keeps `form`'s typed values in the tab's session storage as it is posted.
pub fn keep_values(form: &HtmlFormElement) {
    let (Some(key), Ok(Some(storage))) = (key(form), window().session_storage()) else {
        return;
    };
    let values = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            typed_inputs(form)
                .iter()
                .map(|input| (input.name(), input.value())),
        )
        .finish();
    let _ = storage.set_item(&key, &format!("{}|{values}", now()));
}

/// Drops kept values whose page never came (the post succeeded): what
/// someone typed does not stay in the tab longer than it is needed.
pub fn forget_stale() {
    let Ok(Some(storage)) = window().session_storage() else {
        return;
    };
    let keys: Vec<String> = (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|key| key.starts_with("latchkey-kept:"))
        .collect();
    for key in keys {
        let kept = storage.get_item(&key).ok().flatten().unwrap_or_default();
        if fresh(&kept).is_none() {
            let _ = storage.remove_item(&key);
        }
    }
}

/// Puts the kept values back into the empty fields of the forms on this
/// page (it shows a form's error), once: the entry goes as it is read.
pub fn refill_forms() {
    let Ok(Some(storage)) = window().session_storage() else {
        return;
    };
    let forms = document().forms();
    for i in 0..forms.length() {
        let Some(form) = forms
            .item(i)
            .and_then(|f| f.dyn_into::<HtmlFormElement>().ok())
        else {
            continue;
        };
        let Some(key) = key(&form) else { continue };
        let Ok(Some(kept)) = storage.get_item(&key) else {
            continue;
        };
        let _ = storage.remove_item(&key);
        let Some(values) = fresh(&kept) else {
            continue;
        };
        let inputs = typed_inputs(&form);
        for (name, value) in form_urlencoded::parse(values.as_bytes()) {
            if let Some(input) = inputs
                .iter()
                .find(|i| i.name() == name && i.value().is_empty())
            {
                input.set_value(&value);
            }
        }
    }
}

/// The error of a form comes back in the page's address (`__path`,
/// `__err`: how a post answers with its form's error). Once it is on
/// screen the address drops it, so a reload or a copied link starts clean.
pub fn forget_error_in_url() {
    let location = window().location();
    let Ok(search) = location.search() else {
        return;
    };
    let pairs = form_urlencoded::parse(search.trim_start_matches('?').as_bytes());
    let kept: Vec<_> = pairs
        .filter(|(key, _)| key != "__path" && key != "__err")
        .collect();
    if kept.len() == pairs.count() {
        return;
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    let path = location.pathname().unwrap_or_default();
    let url = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    if let Ok(history) = window().history() {
        let _ =
            history.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
