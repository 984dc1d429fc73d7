use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::session::use_session;
use crate::tr;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text=""/>
        {move || use_query_map().with(|q| q.get("deleted").is_some()).then(|| view! {
            <div class="banner" role="status" data-testid="deleted-notice">{tr!(home.deleted)}</div>
        })}
        <section class="hero">
            <h1>{tr!(home.headline)}</h1>
            <p class="lead">{tr!(home.lead)}</p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.me.await {
                        Ok(Some(me)) => view! {
                            <p class="hero-actions">
                                <A href="/profile" attr:class="button button-primary">
                                    {tr!(home.continue_as, name = me.user.username.clone())}
                                </A>
                            </p>
                        }.into_any(),
                        _ => view! {
                            <p class="hero-actions">
                                <A href="/signup" attr:class="button button-primary">{tr!(home.create_account)}</A>
                                <A href="/login" attr:class="button button-quiet">{tr!(home.log_in)}</A>
                            </p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
