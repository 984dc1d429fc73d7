//! Which language a request gets: the `i18n_pref_locale` cookie (set by the
//! language switcher), else the best of `Accept-Language`, else English. The
//! server decides once per request, so pages, errors and mail agree, and a
//! page keeps its language for its whole life: the switcher reloads it. So
//! translations are plain strings, not reactive nodes, which keeps the WASM
//! small.

pub use crate::i18n::Locale;

/// The locale of the page being rendered: provided by `App` on the server;
/// in the browser an island reads it back from `<html lang>`, since the
/// page's context stays on the server.
pub fn current() -> Locale {
    leptos::prelude::use_context::<Locale>()
        .or_else(from_document)
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn from_document() -> Option<Locale> {
    None
}

#[cfg(not(feature = "ssr"))]
fn from_document() -> Option<Locale> {
    leptos::prelude::document()
        .document_element()?
        .get_attribute("lang")
        .and_then(|tag| from_tag(&tag))
}

/// A translation in the page's language: `tr!(login.title)` (a `&'static
/// str`), `tr!(verify.resend_in, count = n)` (a `String`).
#[macro_export]
macro_rules! tr {
    ($($args:tt)*) => {
        $crate::i18n::td_string!($crate::locale::current(), $($args)*)
    };
}

/// A translation with markup in it: `tr_view!(verify.sent, email = e, <b> = <strong/>)`.
#[macro_export]
macro_rules! tr_view {
    ($($args:tt)*) => {
        $crate::i18n::td!($crate::locale::current(), $($args)*)
    };
}

/// The cookie the language switcher sets (leptos_i18n's name for it).
pub const COOKIE: &str = "i18n_pref_locale";

/// The tag of `locale` (`en`, `ko`), as stored and sent.
pub fn tag(locale: Locale) -> &'static str {
    leptos_i18n::Locale::as_str(locale)
}

/// A locale from its tag (`ko`, `ko-KR`, `EN-us`): the language part decides.
pub fn from_tag(tag: &str) -> Option<Locale> {
    let language = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match language.as_str() {
        "en" => Some(Locale::en),
        "ko" => Some(Locale::ko),
        _ => None,
    }
}

/// The supported locale a browser prefers most, by `Accept-Language`
/// quality values (`ko-KR,ko;q=0.9,en;q=0.8`).
pub fn from_accept_language(header: &str) -> Option<Locale> {
    let mut ranked: Vec<(f32, usize, Locale)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let locale = from_tag(pieces.next()?)?;
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (quality > 0.0).then_some((quality, i, locale))
        })
        .collect();
    // Highest quality first; the header's order breaks ties.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.first().map(|(_, _, locale)| *locale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every key path with its value, and the `{{ var }}` and `<tag>`
    /// markers the value uses.
    fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    flatten(&path, value, out);
                }
            }
            other => {
                out.insert(
                    prefix.to_owned(),
                    other.as_str().unwrap_or_default().to_owned(),
                );
            }
        }
    }

    fn markers(text: &str) -> Vec<String> {
        let mut found: Vec<String> = text
            .split("{{")
            .skip(1)
            .filter_map(|rest| rest.split("}}").next())
            .map(|var| format!("{{{{{}}}}}", var.trim()))
            .chain(
                text.split('<')
                    .skip(1)
                    .filter_map(|rest| rest.split('>').next())
                    .map(|tag| format!("<{tag}>")),
            )
            .collect();
        found.sort();
        found
    }

    /// Korean has every English key, and each value keeps its placeholders
    /// and tags (a translation that dropped `{{ count }}` would compile).
    #[test]
    fn korean_matches_english_key_for_key() {
        let load = |text: &str| {
            let mut out = BTreeMap::new();
            flatten(
                "",
                &serde_json::from_str(text).expect("valid JSON"),
                &mut out,
            );
            out
        };
        let en = load(include_str!("../locales/en.json"));
        let ko = load(include_str!("../locales/ko.json"));
        assert_eq!(
            en.keys().collect::<Vec<_>>(),
            ko.keys().collect::<Vec<_>>(),
            "the two locale files have different keys"
        );
        for (key, english) in &en {
            assert_eq!(markers(english), markers(&ko[key]), "{key}: {:?}", ko[key]);
            // The product's name is the same in every language.
            let same_on_purpose = key == "home.title";
            assert!(
                ko[key] != *english || same_on_purpose,
                "{key} is not translated: {english:?}"
            );
        }
    }

    #[test]
    fn accept_language_is_ranked_by_quality() {
        assert_eq!(
            from_accept_language("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"),
            Some(Locale::ko)
        );
        assert_eq!(from_accept_language("en;q=0.1, ko"), Some(Locale::ko));
        assert_eq!(
            from_accept_language("fr-FR, de;q=0.9, en;q=0.5"),
            Some(Locale::en)
        );
        assert_eq!(
            from_accept_language("ko;q=0, en"),
            Some(Locale::en),
            "q=0 means no"
        );
        assert_eq!(from_accept_language("fr, *"), None);
        assert_eq!(from_accept_language("ko;q=nonsense"), None);
        assert_eq!(from_tag("KO-kr"), Some(Locale::ko));
    }
}
