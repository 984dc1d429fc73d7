//! The admin console: an overview, users (list and detail), apps, webhooks
//! and the activity log. Every page, server function and API route checks the role
//! read fresh from the database; visitors are sent to log in, members get a
//! 403 page.

pub mod activity;
pub mod apps;
pub mod overview;
pub mod user;
pub mod users;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::model::{Me, Role};
use crate::pages::RequireUser;
use crate::tr;

/// Renders `admin` for administrators only; other users get a 403 page and
/// visitors the log-in page, as with [`RequireUser`].
#[component]
pub fn RequireAdmin<V>(admin: impl Fn(Me) -> V + Send + Sync + Copy + 'static) -> impl IntoView
where
    V: IntoView + 'static,
{
    view! {
        <RequireUser signed_in=move |me: Me| {
            if me.user.role == Role::Admin {
                admin(me).into_any()
            } else {
                view! { <Forbidden/> }.into_any()
            }
        }/>
    }
}

#[component]
fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text=tr!(admin.forbidden_title)/>
        <section class="card" data-testid="forbidden">
            <h1>{tr!(admin.forbidden_title)}</h1>
            <p>{tr!(admin.forbidden_text)}</p>
            <p><A href="/profile">{tr!(admin.go_profile)}</A></p>
        </section>
    }
}

/// A console page's card: its heading, the console's tabs, then
/// `children`.
#[component]
pub fn ConsoleCard(
    #[prop(into)] heading: String,
    /// The heading's `data-testid`, for pages whose heading is a name.
    #[prop(optional)]
    testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="card card-wide">
            <div class="card-head">
                <h1 data-testid=testid>{heading}</h1>
                <AdminNav/>
            </div>
            {children()}
        </section>
    }
}

/// The console's tabs.
#[component]
fn AdminNav() -> impl IntoView {
    let path = use_location().pathname;
    // The overview is the console's home; every other tab is a section.
    let current = move |tab: &'static str| {
        let path = path.get();
        let active = match tab {
            "/admin" => path.trim_end_matches('/') == "/admin",
            section => path.starts_with(section),
        };
        active.then_some("page")
    };
    view! {
        <nav class="tabs" aria-label=tr!(admin.console)>
            // Plain links: the router's `A` would also mark "/admin" current
            // on every page under it.
            <a href="/admin" class="tab" aria-current=move || current("/admin")>{tr!(admin.overview)}</a>
            <a href="/admin/users" class="tab" aria-current=move || current("/admin/users")>{tr!(admin.users)}</a>
            <a href="/admin/apps" class="tab" aria-current=move || current("/admin/apps")>{tr!(admin.apps)}</a>
            <a href="/admin/webhooks" class="tab" aria-current=move || current("/admin/webhooks")>{tr!(admin.webhooks)}</a>
            <a href="/admin/activity" class="tab" aria-current=move || current("/admin/activity")>{tr!(admin.activity_log)}</a>
        </nav>
    }
}

/// `key=value&…` of the non-empty pairs, URL-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(key, value);
    }
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::query_string;

    #[test]
    fn query_strings_skip_empty_values_and_encode() {
        assert_eq!(
            query_string(&[("q", "a b&c"), ("role", ""), ("page", "2")]),
            "q=a+b%26c&page=2"
        );
    }
}
