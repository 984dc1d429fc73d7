//! The page a browser gets while the database is down: plain HTML, since the
//! app cannot render a page without knowing the session; in the request's
//! language.

use app::i18n::td_string as t;
use app::locale::Locale;

pub fn page(locale: Locale, product: &str) -> String {
    let lang = app::locale::tag(locale);
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {product}</title>\
         <link rel=\"stylesheet\" href=\"/pkg/latchkey.css\"></head><body><main class=\"page\">\
         <section class=\"card auth-card\"><h1>{title}</h1><p>{message}</p>\
         <p><a href=\"\">{retry}</a></p></section></main></body></html>",
        title = t!(locale, unavailable.title),
        message = t!(locale, errors.unavailable),
        retry = t!(locale, unavailable.retry),
        // The operator's text: escaped like any other.
        product = app::brand::escape(product),
    )
}
