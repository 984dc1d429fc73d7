//! The product the pages speak for: its name, logo, favicon, colours and
//! the support and legal links the operator set (`server::brand`). The
//! server puts it in every request's extensions; only the server renders
//! the parts that show it, so the WASM never needs it.

use std::sync::Arc;

/// Latchkey's own name, when no `PRODUCT_NAME` is set.
pub const LATCHKEY: &str = "Latchkey";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub product: String,
    /// URL of the logo shown beside the name in the header.
    pub logo: Option<String>,
    /// URL of the favicon and its content type.
    pub favicon: Option<(String, String)>,
    /// URL of the stylesheet with the product's colours.
    pub stylesheet: Option<String>,
    pub support_email: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
}

impl Default for Brand {
    fn default() -> Self {
        Self {
            product: LATCHKEY.into(),
            logo: None,
            favicon: None,
            stylesheet: None,
            support_email: None,
            terms_url: None,
            privacy_url: None,
        }
    }
}

impl Brand {
    /// Whether this is Latchkey under its own name (its home page then
    /// says what Latchkey is).
    pub fn is_latchkey(&self) -> bool {
        self.product == LATCHKEY
    }

    /// `Page · Product`, or the product alone, escaped: leptos_meta 0.8
    /// writes the title into the server's HTML as it is, and `<title>`
    /// decodes character references, so this shows as written.
    pub fn title(&self, page: &str) -> String {
        let title = if page.is_empty() {
            self.product.clone()
        } else {
            format!("{page} · {}", self.product)
        };
        escape(&title)
    }
}

/// Text for HTML written by hand (the title, mails, the outage page): the
/// product's name and the words around it are never markup.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The brand of the request being rendered.
pub fn current() -> Arc<Brand> {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::use_context;
        if let Some(brand) = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Arc<Brand>>().cloned())
        {
            return brand;
        }
    }
    Arc::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_cannot_close_its_element() {
        let brand = Brand {
            product: "A&B </title><script>".into(),
            ..Brand::default()
        };
        assert_eq!(
            brand.title("Log in"),
            "Log in · A&amp;B &lt;/title&gt;&lt;script&gt;"
        );
        assert_eq!(Brand::default().title(""), "Latchkey");
    }
}
