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
    leptos_axum::redirect(latchkey_types::paths::same_site_path(&back).unwrap_or("/"));
    Ok(())
}

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let current = crate::locale::current();
    let location = use_location();
    let back = move || {
        // Tracked: the switcher sits in the header, across navigations.
        location.pathname.track();
        location.search.track();
        crate::pages::address(&location)
    };
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
