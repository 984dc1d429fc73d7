//! The admin console's user list: search, filters and pages, all in the
//! URL, so the page works without JavaScript and can be bookmarked.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use super::{query_string, AdminNav, RequireAdmin};
use crate::components::time::utc;
use crate::error::AppError;
use crate::model::{AdminUser, Role, UserPage, UserQuery};

#[server(prefix = "/fn", endpoint = "admin_users")]
pub async fn admin_users(query: UserQuery) -> Result<UserPage, AppError> {
    use crate::ssr::request;
    request::require_admin()?;
    request::services()?.list_users(&query).await
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
            "/admin".into()
        } else {
            format!("/admin?{query}")
        }
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let filters = Memo::new(move |_| use_query_map().with(Filters::from_query));
    let page = Resource::new_blocking(move || filters.get(), |f| admin_users(f.to_query()));
    view! {
        <Title text="Users · Admin"/>
        <RequireAdmin admin=move |_| view! {
            <section class="card card-wide">
                <div class="card-head">
                    <h1>"Users"</h1>
                    <AdminNav/>
                </div>
                {move || use_query_map().with(|q| q.get("deleted")).map(|name| view! {
                    <div class="banner banner-ok" role="status" data-testid="admin-done">
                        {format!("The account {name} was deleted.")}
                    </div>
                })}
                <FilterForm filters=filters.get_untracked()/>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Ok(page) => view! { <UserTable page filters=filters.get_untracked()/> }.into_any(),
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
    let select = |name: &'static str,
                  label: &'static str,
                  current: String,
                  options: [(&'static str, &'static str); 3]| {
        let id = format!("filter-{name}");
        view! {
            <div class="field">
                <label for=id.clone()>{label}</label>
                <select id=id name=name>
                    {options.into_iter().map(|(value, text)| view! {
                        <option value=value selected=current == value>{text}</option>
                    }).collect_view()}
                </select>
            </div>
        }
    };
    view! {
        <Form method="GET" action="/admin" attr:class="filters" attr:role="search">
            <div class="field field-grow">
                <label for="filter-q">"Search"</label>
                <input id="filter-q" type="search" name="q" value=filters.q placeholder="Email or username" autocomplete="off"/>
            </div>
            {select("role", "Role", filters.role, [("", "Any role"), ("admin", "Administrators"), ("user", "Members")])}
            {select("verified", "Email", filters.verified, [("", "Any"), ("yes", "Verified"), ("no", "Not verified")])}
            {select("status", "Status", filters.status, [("", "Any"), ("active", "Active"), ("disabled", "Disabled")])}
            <button type="submit" class="button button-primary">"Search"</button>
        </Form>
    }
}

#[component]
fn UserTable(page: UserPage, filters: Filters) -> impl IntoView {
    if page.users.is_empty() {
        let text = if page.total == 0 {
            "No users match these filters."
        } else {
            "There are no users on this page."
        };
        return view! {
            <p class="muted" role="status" data-testid="user-count">{text}</p>
            {(page.page > 1).then(|| view! { <p><A href=filters.href(1)>"Back to the first page"</A></p> })}
        }
        .into_any();
    }
    let first = (page.page - 1) as i64 * page.per_page as i64 + 1;
    let last = first + page.users.len() as i64 - 1;
    let pages = ((page.total + page.per_page as i64 - 1) / page.per_page as i64).max(1);
    let noun = if page.total == 1 { "user" } else { "users" };
    view! {
        <p class="muted" role="status" data-testid="user-count">
            {format!("{first}–{last} of {} {noun}", page.total)}
        </p>
        <div class="table-wrap">
            <table class="table" data-testid="users">
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Joined"</th>
                        <th scope="col">"Last active"</th>
                    </tr>
                </thead>
                <tbody>
                    {page.users.into_iter().map(|user| view! { <UserRow user/> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {(page.page > 1).then(|| view! { <A href=filters.href(page.page - 1) attr:rel="prev">"← Previous"</A> })}
            <span class="muted">{format!("Page {} of {pages}", page.page)}</span>
            {((page.page as i64) < pages).then(|| view! { <A href=filters.href(page.page + 1) attr:rel="next">"Next →"</A> })}
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
    view! {
        <tr data-testid="user-row">
            <td>
                <A href=format!("/admin/users/{}", user.id) attr:class="strong">{user.username}</A>
                <br/>
                <span class="muted">{user.email}</span>
            </td>
            <td>{if user.role == Role::Admin { view! { <span class="badge badge-admin">"Admin"</span> }.into_any() } else { "Member".into_any() }}</td>
            <td>{if user.email_verified {
                view! { <span class="badge badge-ok">"verified"</span> }.into_any()
            } else {
                view! { <span class="badge badge-warn">"not verified"</span> }.into_any()
            }}</td>
            <td>{if disabled {
                view! { <span class="badge badge-danger">"disabled"</span> }.into_any()
            } else {
                "Active".into_any()
            }}</td>
            <td class="nowrap">{date(user.created_at)}</td>
            <td class="nowrap">{last_seen_at.map(date).unwrap_or_else(|| "—".into())}</td>
        </tr>
    }
}

/// "23 Nov 2026" (the day is enough in a table).
fn date(secs: i64) -> String {
    utc(secs).split(',').next().unwrap_or_default().to_owned()
}
