pub mod admin;
pub mod change_email;
pub mod connected_apps;
pub mod consent;
pub mod delete_account;
pub mod forgot;
pub mod home;
pub mod linked_accounts;
pub mod login;
pub mod login_code;
pub mod not_found;
pub mod passkeys;
pub mod password;
pub mod profile;
pub mod reset;
pub mod revert_email;
pub mod second_factor;
pub mod security;
pub mod sessions;
pub mod signup;
pub mod step_up;
pub mod two_step;
pub mod verify;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use latchkey_types::paths::with_next;

use crate::model::Me;
use crate::session::use_session;
use crate::tr;

/// Whether the page's address says `flag` happened (`/profile?saved`, set
/// by the redirect after a post), and no form on it was refused since: a
/// refused post returns to the same address with its error added.
pub fn address_says(flag: &str) -> bool {
    leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get(flag).is_some() && q.get("__err").is_none())
}

/// The value the page's address gives `key` (`/login?next=/security`).
pub fn address_value(key: &str) -> Option<String> {
    leptos_router::hooks::use_query_map().with_untracked(|q| q.get(key))
}

/// The page a sign-in goes back to (`?next=`), when it is one of ours.
pub fn next_page() -> String {
    address_value("next")
        .and_then(|next| latchkey_types::paths::same_site_path(&next).map(str::to_owned))
        .unwrap_or_default()
}

/// The page's path and query (`/sessions?all=1`), as a link back to it.
pub fn address(location: &leptos_router::location::Location) -> String {
    let path = location.pathname.get_untracked();
    let query = location.search.get_untracked();
    match query.trim_start_matches('?') {
        "" => path,
        query => format!("{path}?{query}"),
    }
}

/// Where a sign-in from this page lands (pages render on the server):
/// `next` if it is a page here, unless something waits for the sign-in
/// (`ssr::cookies::landing`).
pub fn sign_in_lands(next: &str) -> String {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request::landing(next).to_owned()
    }
    #[cfg(not(feature = "ssr"))]
    {
        latchkey_types::paths::landing(next).to_owned()
    }
}

/// Whether an app asked this browser for a fresh sign-in (`prompt=login`:
/// `?again`, while its authorization waits), so a browser signed in from
/// before stays on the sign-in pages. A bare `?again` asks nothing: a link
/// cannot keep a signed-in visitor on them (to type someone else's code).
pub fn fresh_sign_in_asked() -> bool {
    #[cfg(feature = "ssr")]
    {
        address_value("again").is_some() && crate::ssr::request::authorization_waits()
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// `path` carrying `?again` ([`fresh_sign_in_asked`]) on to the next step.
pub fn with_again(path: String, again: bool) -> String {
    match again {
        true => latchkey_types::paths::with_query(&path, "again"),
        false => path,
    }
}

/// Whether a refused post brought field `name` back filled (`ssr::kept`;
/// pages render on the server).
pub fn kept(name: &str) -> bool {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::kept::value(name, None).is_some()
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = name;
        false
    }
}

/// Whether an app's authorization waits for this browser to sign in (pages
/// render on the server).
pub fn authorization_waits() -> bool {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request::authorization_waits()
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// Whether a second-factor challenge waits in this browser (pages render on
/// the server).
pub fn second_factor_waits() -> bool {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request::second_factor_waits()
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// Whether this deployment offers passkeys (pages render on the server).
pub fn passkeys_enabled() -> bool {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request::services().is_ok_and(|s| s.passkeys().enabled())
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// Renders `signed_in` for a signed-in user and sends everyone else to the
/// log-in page (a 302), which brings them back here once signed in.
#[component]
pub fn RequireUser<V>(signed_in: impl Fn(Me) -> V + Send + Sync + Copy + 'static) -> impl IntoView
where
    V: IntoView + 'static,
{
    let session = use_session();
    // Where the log-in page sends them back to.
    let location = leptos_router::hooks::use_location();
    let login = with_next("/login", &address(&location));
    view! {
        <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
            {move || Suspend::new({
                let login = login.clone();
                async move {
                    match session.me.await {
                        Ok(Some(me)) => signed_in(me).into_any(),
                        _ => view! { <Redirect path=login/> }.into_any(),
                    }
                }
            })}
        </Suspense>
    }
}

/// Sends a signed-in user away from pages meant for visitors (log in, sign
/// up): where a sign-in from here would land, that is the profile when an
/// app's authorization or a link waits (it goes on from there), else
/// `?next=`, else the profile.
#[component]
pub fn RedirectIfSignedIn() -> impl IntoView {
    let session = use_session();
    let to = sign_in_lands(&address_value("next").unwrap_or_default());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new({
                let to = to.clone();
                async move {
                    matches!(session.me.await, Ok(Some(_))).then(|| view! { <Redirect path=to/> })
                }
            })}
        </Suspense>
    }
}
