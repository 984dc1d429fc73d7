//! The whole security activity log, filterable by account, address, kind
//! and "admin actions only", paged newest first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use super::{query_string, AdminNav, RequireAdmin};
use crate::components::activity::ActivityList;
use crate::error::AppError;
use crate::model::{ActivityPage, EventKind};
use crate::pages::security::Pager;

#[server(prefix = "/fn", endpoint = "admin_events")]
pub async fn admin_events(
    q: String,
    kind: String,
    admin_only: bool,
    user_id: String,
    before: String,
) -> Result<ActivityPage, AppError> {
    use crate::ssr::{audit::ActivityFilter, request};
    request::require_admin()?;
    let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let filter = ActivityFilter {
        user_id: some(user_id),
        search: some(q),
        kind: EventKind::parse(&kind),
        admin_only,
        before: some(before),
        limit: 50,
    };
    request::services()?.activity(&filter).await
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Filters {
    q: String,
    kind: String,
    admin_only: bool,
    user_id: String,
    before: String,
}

impl Filters {
    fn from_query(map: &ParamsMap) -> Self {
        let get = |key| map.get(key).unwrap_or_default();
        Self {
            q: get("q"),
            kind: get("kind"),
            admin_only: get("admin") == "1",
            user_id: get("user_id"),
            before: get("before"),
        }
    }

    /// The page's URL with these filters, ready for one more `key=value`.
    fn base(&self) -> String {
        let query = query_string(&[
            ("q", &self.q),
            ("kind", &self.kind),
            ("admin", if self.admin_only { "1" } else { "" }),
            ("user_id", &self.user_id),
        ]);
        if query.is_empty() {
            "/admin/activity?".into()
        } else {
            format!("/admin/activity?{query}&")
        }
    }
}

/// Labels for the kind filter.
fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::SignUp => "Sign-ups",
        EventKind::LoginSucceeded => "Sign-ins",
        EventKind::LoginFailed => "Failed sign-ins",
        EventKind::LoginThrottled => "Paused sign-ins",
        EventKind::CodeSent => "Codes sent",
        EventKind::CodeFailed => "Failed codes",
        EventKind::EmailVerified => "Emails verified",
        EventKind::EmailChanged => "Email changes",
        EventKind::UsernameChanged => "Username changes",
        EventKind::PasswordResetRequested => "Reset links sent",
        EventKind::PasswordReset => "Password resets",
        EventKind::PasswordChanged => "Password changes",
        EventKind::Logout => "Sign-outs",
        EventKind::SessionRevoked => "Sessions ended",
        EventKind::AccountDeleted => "Accounts deleted",
        EventKind::UserDisabled => "Accounts disabled",
        EventKind::UserEnabled => "Accounts enabled",
        EventKind::RoleChanged => "Role changes",
    }
}

#[component]
pub fn ActivityLogPage() -> impl IntoView {
    let filters = Memo::new(move |_| use_query_map().with(Filters::from_query));
    let page = Resource::new_blocking(
        move || filters.get(),
        |f| admin_events(f.q, f.kind, f.admin_only, f.user_id, f.before),
    );
    view! {
        <Title text="Activity log · Admin"/>
        <RequireAdmin admin=move |_| view! {
            <section class="card card-wide">
                <div class="card-head">
                    <h1>"Activity log"</h1>
                    <AdminNav/>
                </div>
                <FilterForm filters=filters.get_untracked()/>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let filters = filters.get_untracked();
                        match page.await {
                            Ok(page) => view! {
                                <ActivityList events=page.events admin=true with_user=true/>
                                <Pager next_before=page.next_before newest=!filters.before.is_empty() base=filters.base()/>
                            }.into_any(),
                            Err(err) => view! { <p class="form-alert" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        }/>
    }
}

#[component]
fn FilterForm(filters: Filters) -> impl IntoView {
    let kind = filters.kind.clone();
    view! {
        <Form method="GET" action="/admin/activity" attr:class="filters" attr:role="search">
            {(!filters.user_id.is_empty()).then(|| view! {
                <input type="hidden" name="user_id" value=filters.user_id.clone()/>
            })}
            <div class="field field-grow">
                <label for="filter-q">"Account or IP address"</label>
                <input id="filter-q" type="search" name="q" value=filters.q placeholder="Email, username or IP" autocomplete="off"/>
            </div>
            <div class="field">
                <label for="filter-kind">"Event"</label>
                <select id="filter-kind" name="kind">
                    <option value="">"All events"</option>
                    {EventKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=kind == k.as_str()>{kind_label(k)}</option>
                    }).collect_view()}
                </select>
            </div>
            <label class="checkbox">
                <input type="checkbox" name="admin" value="1" checked=filters.admin_only/>
                "Admin actions only"
            </label>
            <button type="submit" class="button button-primary">"Filter"</button>
            {(!filters.user_id.is_empty()).then(|| view! {
                <A href="/admin/activity">"Show every account"</A>
            })}
        </Form>
    }
}
