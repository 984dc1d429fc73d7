//! The admin console's user list: search, filters and pages, all in the
//! URL, so the page works without JavaScript and can be bookmarked.

use leptos::prelude::*;
use leptos::text_prop::TextProp;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use super::{query_string, ConsoleCard, RequireAdmin};
use crate::components::badge::VerifiedBadge;
use crate::components::form::ErrorNote;
use crate::components::time::date;
use crate::error::AppError;
use crate::i18n::td_string as td;
use crate::model::{AdminUser, Role, UserPage, UserQuery};
use crate::tr;

#[server(prefix = "/fn", endpoint = "admin_users")]
pub async fn admin_users(query: UserQuery) -> Result<UserPage, AppError> {
    use crate::ssr::request;
    request::require_admin()?;
    Ok(request::services()?.admin().list_users(&query).await?)
}

/// The filters as the URL carries them (`?q=&role=&verified=&status=&page=`).
#[derive(Debug, Clone, PartialEq, Default)]
struct Filters {
    q: String,
    role: String,
    verified: String,
    status: String,
    page: u32,
}

impl Filters {
    fn from_query(map: &ParamsMap) -> Self {
        let get = |key| map.get(key).unwrap_or_default();
        Self {
            q: get("q"),
            role: get("role"),
            verified: get("verified"),
            status: get("status"),
            page: get("page").parse().unwrap_or(1).max(1),
        }
    }

    fn to_query(&self) -> UserQuery {
        let yes_no = |value: &str, yes: &str, no: &str| match value {
            v if v == yes => Some(true),
            v if v == no => Some(false),
            _ => None,
        };
        UserQuery {
            q: Some(self.q.clone()).filter(|q| !q.trim().is_empty()),
            role: Role::parse(&self.role),
            verified: yes_no(&self.verified, "yes", "no"),
            disabled: yes_no(&self.status, "disabled", "active"),
            page: Some(self.page),
            per_page: None,
        }
    }

    /// The URL of page `page` with the same filters.
    fn href(&self, page: u32) -> String {
        let page = page.to_string();
        let query = query_string(&[
            ("q", &self.q),
            ("role", &self.role),
            ("verified", &self.verified),
            ("status", &self.status),
            ("page", if page == "1" { "" } else { &page }),
        ]);
        if query.is_empty() {
            "/admin/users".into()
        } else {
            format!("/admin/users?{query}")
        }
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let filters = Memo::new(move |_| use_query_map().with(Filters::from_query));
    let page = Resource::new_blocking(move || filters.get(), |f| admin_users(f.to_query()));
    view! {
        <Title text=tr!(admin.users_title)/>
        <RequireAdmin admin=move |_| view! {
            <ConsoleCard heading=tr!(admin.users)>
                {move || use_query_map().with(|q| q.get("deleted")).map(|name| view! {
                    <div class="banner banner-ok" role="status" data-testid="admin-done">
                        {tr!(admin.deleted, name = name.clone())}
                    </div>
                })}
                <FilterForm filters=filters.get_untracked()/>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Ok(page) => view! { <UserTable page filters=filters.get_untracked()/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </ConsoleCard>
        }/>
    }
}

/// A labelled `<select>` whose options are (value, label) pairs.
#[component]
fn Select(
    name: &'static str,
    #[prop(into)] label: TextProp,
    current: String,
    options: Vec<(&'static str, TextProp)>,
) -> impl IntoView {
    let id = format!("filter-{name}");
    view! {
        <div class="field">
            <label for=id.clone()>{label.get()}</label>
            <select id=id name=name>
                {options.into_iter().map(|(value, text)| view! {
                    <option value=value selected=current == value>{text.get()}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn FilterForm(filters: Filters) -> impl IntoView {
    let text = move |get: fn(crate::i18n::Locale) -> &'static str| {
        TextProp::from(get(crate::locale::current()))
    };
    view! {
        <Form method="GET" action="/admin/users" attr:class="filters" attr:role="search">
            <div class="field field-grow">
                <label for="filter-q">{tr!(admin.search)}</label>
                <input
                    id="filter-q"
                    type="search"
                    name="q"
                    value=filters.q
                    placeholder=tr!(admin.search_placeholder)
                    autocomplete="off"
                />
            </div>
            <Select
                name="role"
                label=text(|l| td!(l, admin.role))
                current=filters.role
                options=vec![
                    ("", text(|l| td!(l, admin.any_role))),
                    ("admin", text(|l| td!(l, admin.admins))),
                    ("user", text(|l| td!(l, admin.members))),
                ]
            />
            <Select
                name="verified"
                label=text(|l| td!(l, admin.email))
                current=filters.verified
                options=vec![
                    ("", text(|l| td!(l, admin.any))),
                    ("yes", text(|l| td!(l, admin.verified))),
                    ("no", text(|l| td!(l, admin.unverified))),
                ]
            />
            <Select
                name="status"
                label=text(|l| td!(l, admin.status))
                current=filters.status
                options=vec![
                    ("", text(|l| td!(l, admin.any))),
                    ("active", text(|l| td!(l, admin.active))),
                    ("disabled", text(|l| td!(l, admin.disabled))),
                ]
            />
            <button type="submit" class="button button-primary">{tr!(admin.search_button)}</button>
        </Form>
    }
}

#[component]
fn UserTable(page: UserPage, filters: Filters) -> impl IntoView {
    if page.users.is_empty() {
        let none = page.total == 0;
        return view! {
            <p class="muted" role="status" data-testid="user-count">
                {if none { tr!(admin.no_match) } else { tr!(admin.empty_page) }}
            </p>
            {(page.page > 1).then(|| view! { <p><A href=filters.href(1)>{tr!(admin.first_page)}</A></p> })}
        }
        .into_any();
    }
    let first = (page.page - 1) as i64 * page.per_page as i64 + 1;
    let last = first + page.users.len() as i64 - 1;
    let pages = ((page.total + page.per_page as i64 - 1) / page.per_page as i64).max(1);
    let total = page.total;
    let count = {
        if total == 1 {
            tr!(admin.count_1, first = first, last = last)
        } else {
            tr!(admin.count_n, first = first, last = last, total = total)
        }
    };
    view! {
        <p class="muted" role="status" data-testid="user-count">{count}</p>
        <div class="table-wrap">
            <table class="table" data-testid="users">
                <thead>
                    <tr>
                        <th scope="col">{tr!(admin.col_user)}</th>
                        <th scope="col">{tr!(admin.col_role)}</th>
                        <th scope="col">{tr!(admin.col_email)}</th>
                        <th scope="col">{tr!(admin.col_status)}</th>
                        <th scope="col">{tr!(admin.col_joined)}</th>
                        <th scope="col">{tr!(admin.col_last_active)}</th>
                    </tr>
                </thead>
                <tbody>
                    {page.users.into_iter().map(|user| view! { <UserRow user/> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label=tr!(common.pages)>
            {(page.page > 1).then(|| view! { <A href=filters.href(page.page - 1) attr:rel="prev">{tr!(admin.previous)}</A> })}
            <span class="muted">{tr!(admin.page_of, page = page.page, pages = pages)}</span>
            {((page.page as i64) < pages).then(|| view! { <A href=filters.href(page.page + 1) attr:rel="next">{tr!(admin.next)}</A> })}
        </nav>
    }
    .into_any()
}

#[component]
fn UserRow(user: AdminUser) -> impl IntoView {
    let AdminUser {
        user,
        disabled,
        last_seen_at,
    } = user;
    let joined = user.created_at;
    view! {
        <tr data-testid="user-row">
            <td>
                <A href=format!("/admin/users/{}", user.id) attr:class="strong">{user.username}</A>
                <br/>
                <span class="muted">{user.email}</span>
            </td>
            <td>{if user.role == Role::Admin {
                view! { <span class="badge badge-admin">{tr!(admin.badge_admin)}</span> }.into_any()
            } else {
                tr!(admin.member).into_any()
            }}</td>
            <td><VerifiedBadge verified=user.email_verified/></td>
            <td>{if disabled {
                view! { <span class="badge badge-danger">{tr!(admin.badge_disabled)}</span> }.into_any()
            } else {
                tr!(admin.active).into_any()
            }}</td>
            <td class="nowrap">{date(joined, crate::locale::current())}</td>
            <td class="nowrap">
                {last_seen_at.map(|at| date(at, crate::locale::current())).unwrap_or_else(|| "—".into())}
            </td>
        </tr>
    }
}
