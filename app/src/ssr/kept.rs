//! What someone typed into a form the server refused, shown again on the
//! page that explains the refusal, so they fix only the mistake, with or
//! without the page's script. A refused post is a redirect back to its
//! page (`__path`, `__err` in the address); `server::kept_values` carries
//! the post's kept fields (`KEPT_FIELDS`: addresses and names, never a
//! secret or a code) to that page in one cookie, sealed for the form's
//! path (so a header log reads nothing), for a minute, cleared by the
//! next page.

use latchkey_core::Services;

use super::{cookies, sealed};

use latchkey_types::forms::KEPT_FIELDS;

/// The most a form may keep, form-encoded (more is not carried): a webhook's
/// address may be 2,000 characters, and sealed in base64 this still fits
/// the 4 KiB a browser keeps of a cookie.
const MAX_KEPT: usize = 2560;

/// A refused post's kept fields, put on the request of the page that shows
/// the refusal; `Field` reads its own from it.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// The server function the form posted to.
    path: String,
    values: Vec<(String, String)>,
}

impl Kept {
    /// The kept fields of a form post's body, posted to `path`.
    pub fn from_form(path: &str, body: &[u8]) -> Self {
        let values = form_urlencoded::parse(body)
            .into_owned()
            .filter(|(name, _)| KEPT_FIELDS.contains(&name.as_str()))
            .collect();
        Self {
            path: path.to_owned(),
            values,
        }
    }

    /// What field `name` held, if the form it is in posted to `form` (any
    /// form when `None`).
    pub fn value(&self, name: &str, form: Option<&str>) -> Option<&str> {
        if form.is_some_and(|form| form != self.path) {
            return None;
        }
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `location` (a post's redirect) is the answer of a server
    /// function that refused this post: back to the form, naming it.
    pub fn is_refused_by(&self, location: &str) -> bool {
        let query = location.split_once('?').map(|(_, q)| q);
        refused(query).is_some_and(|path| path == self.path)
    }

    /// `Set-Cookie` carrying these fields to the page that shows the
    /// refusal; none when there is nothing to keep or too much.
    pub fn carry(&self, services: &Services) -> Option<String> {
        let values = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.values)
            .finish();
        if self.values.is_empty() || values.len() > MAX_KEPT {
            return None;
        }
        let sealed =
            sealed::seal_until(services, &owner(&self.path), &values, cookies::KEPT_MAX_AGE);
        Some(cookies::kept(&services.config, Some(sealed)))
    }

    /// What the cookie carried for the refused post a page shows (its
    /// query's `__path`); nothing when it was sealed for another form or
    /// its minute is over.
    pub fn for_page(services: &Services, sealed: &str, query: Option<&str>) -> Option<Self> {
        let path = refused(query)?;
        let values = sealed::open_unexpired(services, &owner(&path), sealed)?;
        let values = form_urlencoded::parse(values.as_bytes())
            .into_owned()
            .collect();
        Some(Self { path, values })
    }
}

/// The server function whose refusal a page's query carries: its `__path`,
/// when an `__err` comes with it.
fn refused(query: Option<&str>) -> Option<String> {
    let pairs = form_urlencoded::parse(query?.as_bytes());
    let find = |key: &str| {
        pairs
            .clone()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    find("__err")?;
    find("__path")
}

fn owner(path: &str) -> String {
    format!("kept:{path}")
}

/// In a page being rendered: what the refused post kept for field `name`
/// of a form posting to `form` (see [`Kept::value`]).
pub fn value(name: &str, form: Option<&str>) -> Option<String> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<Kept>()?
        .value(name, form)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kept_fields_are_taken_never_a_secret() {
        let kept = Kept::from_form(
            "/fn/signup",
            b"email=a%40example.com&username=ann&password=hunter22&code=123456&confirm=x",
        );
        assert_eq!(kept.value("email", None), Some("a@example.com"));
        assert_eq!(kept.value("username", None), Some("ann"));
        for secret in ["password", "code", "confirm"] {
            assert_eq!(kept.value(secret, None), None, "{secret}");
        }
    }

    #[test]
    fn a_value_goes_back_to_its_own_form_only() {
        let kept = Kept::from_form("/fn/rename_passkey", b"name=Laptop");
        assert_eq!(
            kept.value("name", Some("/fn/rename_passkey")),
            Some("Laptop")
        );
        assert_eq!(kept.value("name", Some("/fn/start_passkey")), None);
        assert_eq!(kept.value("name", None), Some("Laptop"));
    }

    #[test]
    fn only_the_refusal_of_this_post_counts() {
        let kept = Kept::from_form("/fn/login", b"login=ann");
        assert!(kept.is_refused_by("/login?__path=%2Ffn%2Flogin&__err=eyJ9"));
        assert!(kept.is_refused_by("http://x.example/login?next=%2Fa&__path=/fn/login&__err=e"));
        // Another form's refusal, or a page that only mentions one (a
        // `next` carrying the words), is not this post's.
        assert!(!kept.is_refused_by("/login?__path=%2Ffn%2Fsignup&__err=e"));
        assert!(!kept.is_refused_by("/x?next=%2Fy%3F__path%3D%2Ffn%2Flogin%26__err%3De"));
        assert!(!kept.is_refused_by("/login?__path=%2Ffn%2Flogin"));
        assert!(!kept.is_refused_by("/profile"));
    }
}
