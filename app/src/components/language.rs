//! The language switcher: a plain form of two buttons. It posts to the
//! server, which sets the cookie (and the account's language, for its mail)
//! and sends the browser back to the same page, now in that language. No
//! script is involved.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_i18n::Locale as _;
use leptos_router::hooks::use_location;

use crate::error::AppError;
use crate::i18n::{td_string, Locale};
use crate::tr;

#[server(prefix = "/fn", endpoint = "set_locale")]
pub async fn set_locale(locale: String, back: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let locale = crate::locale::from_tag(&locale).ok_or_else(|| {
        AppError::from(latchkey_core::Error::invalid(
            "locale",
            crate::error::Reason::UnknownChoice,
        ))
    })?;
    let services = request::services()?;
    if let Some(auth) = request::current_auth() {
        services
            .accounts()
            .set_locale(&auth, crate::locale::tag(locale))
            .await?;
    }
    request::set_cookies([cookies::locale(&services.config, locale)]);
    leptos_axum::redirect(same_site_path(&back).unwrap_or("/"));
    Ok(())
}

/// `back` when it can only mean a page of this site. Browsers read `\` as
/// `/` and drop tabs and newlines anywhere in a URL, so `/\evil.example`
/// and `/<TAB>/evil.example` would become `//evil.example`: another host.
/// The same characters percent-encoded are refused too: some proxy or
/// browser in between may decode them. None of our paths needs them.
#[cfg(feature = "ssr")]
fn same_site_path(back: &str) -> Option<&str> {
    let risky = |c: u8| c == b'\\' || c == b'/' || c.is_ascii_control() || c == b' ';
    let encoded_risky = back.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(risky)
    });
    let safe = back.starts_with('/')
        && !back.starts_with("//")
        && !encoded_risky
        && !back
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    safe.then_some(back)
}

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let current = crate::locale::current();
    let location = use_location();
    let back = move || format!("{}{}", location.pathname.get(), location.search.get());
    view! {
        <form method="post" action=SetLocale::url() class="lang-switch" aria-label=tr!(header.language)>
            <input type="hidden" name="back" value=back/>
            {Locale::get_all().iter().copied().map(|locale| view! {
                <button
                    type="submit"
                    name="locale"
                    value=locale.as_str()
                    lang=locale.as_str()
                    class="lang-option"
                    aria-pressed=(locale == current).to_string()
                >
                    {td_string!(locale, language_name)}
                </button>
            }).collect_view()}
        </form>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::same_site_path;

    #[test]
    fn back_never_leaves_the_site() {
        assert_eq!(same_site_path("/profile?x=1"), Some("/profile?x=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(same_site_path(bad), None, "{bad:?}");
        }
        for encoded in ["/%09/evil.example", "/%5Cevil.example", "/%2f/evil.example"] {
            assert_eq!(same_site_path(encoded), None, "{encoded:?}");
        }
        assert_eq!(
            same_site_path("/login?email=a%40b.c"),
            Some("/login?email=a%40b.c")
        );
    }
}
