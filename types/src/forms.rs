//! What the pages' forms and the server agree on.

/// The fields a refused post brings back to its form (`app::ssr::kept`,
/// and with the page's script `app::browser`): addresses and names, never
/// a secret or a code. A field named here must never hold one.
pub const KEPT_FIELDS: &[&str] = &[
    "email",
    "new_email",
    "username",
    "login",
    "name",
    "logo_url",
    "url",
];
