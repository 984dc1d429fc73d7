//! The user's own security activity: sign-ins, failed attempts and every
//! change to the account, so they can spot what was not them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::RequireUser;
use crate::components::activity::ActivityList;
use crate::components::form::ErrorNote;
use crate::error::AppError;
use crate::model::ActivityPage;
use crate::{tr, tr_view};

#[server(prefix = "/fn", endpoint = "my_activity")]
pub async fn my_activity(before: Option<String>) -> Result<ActivityPage, AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    Ok(request::services()?
        .accounts()
        .own_activity(&auth.user.id, before)
        .await?)
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let before = move || use_query_map().with(|q| q.get("before"));
    let page = Resource::new_blocking(before, my_activity);
    view! {
        <Title text=tr!(security.title)/>
        <RequireUser signed_in=move |_| view! {
            <section class="card">
                <h1>{tr!(security.title)}</h1>
                <p class="muted">
                    {tr_view!(security.intro, <password> = <A href="/password"/>, <sessions> = <A href="/sessions"/>)}
                </p>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Ok(page) => view! {
                                <ActivityList events=page.events/>
                                <Pager next_before=page.next_before newest=before().is_some() base="/security?"/>
                            }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="switch"><A href="/security/two-step">{tr!(security.two_step)}</A></p>
                <p class="switch"><A href="/security/passkeys">{tr!(security.passkeys)}</A></p>
                <p class="switch"><A href="/security/apps">{tr!(security.connected_apps)}</A></p>
                {(!crate::components::upstream::providers().is_empty()).then(|| view! {
                    <p class="switch"><A href="/security/accounts">{tr!(security.linked_accounts)}</A></p>
                })}
                <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
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
        <nav class="pager" aria-label=tr!(common.pages)>
            {newest.then(|| view! { <A href=first>{tr!(common.newest)}</A> })}
            {next_before.map(|id| view! { <A href=format!("{base}before={id}")>{tr!(common.older)}</A> })}
        </nav>
    }
}
