//! What the islands do to the page around them. A form is posted like any
//! form, and a refused one comes back as a new page with its error; these
//! keep what the person typed and tidy the address. Browser-only.

use leptos::prelude::{document, window};
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{HtmlFormElement, HtmlInputElement, HtmlTextAreaElement};

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

/// Entries are `latchkey-kept:<form action>`.
const KEY: &str = "latchkey-kept:";

fn key(form: &HtmlFormElement) -> Option<String> {
    form.get_attribute("action")
        .map(|action| format!("{KEY}{action}"))
}

fn kept_keys(storage: &leptos::web_sys::Storage) -> Vec<String> {
    (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|key| key.starts_with(KEY))
        .collect()
}

/// A field whose value is kept: one the server marks `data-keep` (the
/// admin console's text areas, descriptions, ticks and choices; never a
/// password, even one shown as text, nor a code). A `Field`'s address or
/// name is not marked: the server itself draws it again (`ssr::kept`).
enum Kept {
    Input(HtmlInputElement),
    Area(HtmlTextAreaElement),
}

impl Kept {
    fn name(&self) -> String {
        match self {
            Self::Input(input) => input.name(),
            Self::Area(area) => area.name(),
        }
    }

    /// A checkbox or radio button: posted only when ticked.
    fn is_choice(&self) -> bool {
        matches!(self, Self::Input(input) if matches!(input.type_().as_str(), "checkbox" | "radio"))
    }

    /// What the post sends for it: nothing for an unticked choice.
    fn value(&self) -> Option<String> {
        match self {
            Self::Input(input) if self.is_choice() => input.checked().then(|| input.value()),
            Self::Input(input) => Some(input.value()),
            Self::Area(area) => Some(area.value()),
        }
    }

    /// Puts back what was posted: the refused form shows what the person
    /// wrote, not what the page filled in, so they fix only the mistake.
    fn refill(&self, kept: &[(String, String)]) {
        let name = self.name();
        let posted = kept.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        match (self, posted) {
            // A choice is ticked when its own value was posted.
            (Self::Input(input), posted) if self.is_choice() => {
                input.set_checked(posted.is_some_and(|v| *v == input.value()))
            }
            (Self::Input(input), Some(value)) => input.set_value(value),
            (Self::Area(area), Some(value)) => area.set_value(value),
            _ => {}
        }
    }
}

fn kept_fields(form: &HtmlFormElement) -> Vec<Kept> {
    let Ok(list) = form.query_selector_all("[name][data-keep]") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| {
            let node = list.item(i)?;
            match node.dyn_into::<HtmlInputElement>() {
                Ok(input) => (input.type_() != "password"
                    && !input.autocomplete().contains("password"))
                .then_some(Kept::Input(input)),
                Err(node) => node.dyn_into::<HtmlTextAreaElement>().ok().map(Kept::Area),
            }
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
            kept_fields(form)
                .iter()
                .filter_map(|field| Some((field.name(), field.value()?))),
        )
        .finish();
    let _ = storage.set_item(&key, &format!("{}|{values}", now()));
}

/// The server function whose form was refused, when this page shows the
/// refusal (`?__path=/fn/login&__err=…`).
fn refused_form() -> Option<String> {
    let search = window().location().search().ok()?;
    form_urlencoded::parse(search.trim_start_matches('?').as_bytes())
        .find(|(key, _)| key == "__path")
        .map(|(_, path)| path.into_owned())
}

/// Drops every kept entry but the one this page is about to refill: what
/// someone typed stays in the tab only until the next page shows.
pub fn forget_stale() {
    let Ok(Some(storage)) = window().session_storage() else {
        return;
    };
    let wanted = refused_form().map(|path| format!("{KEY}{path}"));
    for key in kept_keys(&storage) {
        let kept = storage.get_item(&key).ok().flatten().unwrap_or_default();
        if Some(&key) != wanted.as_ref() || fresh(&kept).is_none() {
            let _ = storage.remove_item(&key);
        }
    }
}

/// Puts the kept values back into the refused form, then forgets them all.
pub fn refill_refused_form() {
    let Ok(Some(storage)) = window().session_storage() else {
        return;
    };
    if let Some(path) = refused_form() {
        let kept = storage.get_item(&format!("{KEY}{path}")).ok().flatten();
        // Nothing kept for this page (posted before the script ran, or a
        // link that only looks like a refused post): the form stays as the
        // server drew it.
        let values = kept.as_deref().and_then(fresh);
        let forms = document().forms();
        let form = (0..forms.length())
            .filter_map(|i| forms.item(i)?.dyn_into::<HtmlFormElement>().ok())
            .find(|form| form.get_attribute("action").as_deref() == Some(path.as_str()));
        if let (Some(form), Some(values)) = (form, values) {
            let kept: Vec<(String, String)> = form_urlencoded::parse(values.as_bytes())
                .into_owned()
                .collect();
            for field in kept_fields(&form) {
                field.refill(&kept);
            }
        }
    }
    for key in kept_keys(&storage) {
        let _ = storage.remove_item(&key);
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
