//! The user's own security activity: sign-ins, failed attempts and every
//! change to the account, so they can spot what was not them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RequireUser;
use crate::components::activity::ActivityList;
use crate::error::AppError;
use crate::model::ActivityPage;

#[server(prefix = "/fn", endpoint = "my_activity")]
pub async fn my_activity(before: Option<String>) -> Result<ActivityPage, AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .own_activity(&auth.user.id, before)
        .await
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let before = move || use_query_map().with(|q| q.get("before"));
    let page = Resource::new_blocking(before, my_activity);
    view! {
        <Title text="Security activity"/>
        <RequireUser signed_in=move |_| view! {
            <section class="card">
                <h1>"Security activity"</h1>
                <p class="muted">
                    "Sign-ins, failed attempts and changes to your account, newest first. "
                    "If something was not you, "
                    <A href="/password">"change your password"</A>" and check your "
                    <A href="/sessions">"devices and sessions"</A>"."
                </p>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Ok(page) => view! {
                                <ActivityList events=page.events/>
                                <Pager next_before=page.next_before newest=before().is_some() base="/security?"/>
                            }.into_any(),
                            Err(err) => view! { <p class="form-alert" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="switch"><A href="/profile">"Back to your profile"</A></p>
            </section>
        }/>
    }
}

/// "Newest" and "Older" links for a log paged by `before`. `base` is the
/// page's URL up to and including `?` or `&`, with its other filters.
#[component]
pub fn Pager(
    next_before: Option<String>,
    newest: bool,
    #[prop(into)] base: String,
) -> impl IntoView {
    let first = base.trim_end_matches(['?', '&']).to_owned();
    view! {
        <nav class="pager" aria-label="Pages">
            {newest.then(|| view! { <A href=first>"← Newest"</A> })}
            {next_before.map(|id| view! { <A href=format!("{base}before={id}")>"Older →"</A> })}
        </nav>
    }
}
