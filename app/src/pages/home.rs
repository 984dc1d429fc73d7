use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::session::use_session;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text=""/>
        {move || use_query_map().with(|q| q.get("deleted").is_some()).then(|| view! {
            <div class="banner" role="status" data-testid="deleted-notice">"Your account was deleted. Thank you for trying Latchkey."</div>
        })}
        <section class="hero">
            <h1>"Sign-in that stays out of your way."</h1>
            <p class="lead">
                "Latchkey gives your product accounts, sessions and a JSON API in one small, fast binary you run yourself."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.me.await {
                        Ok(Some(me)) => view! {
                            <p class="hero-actions">
                                <A href="/profile" attr:class="button button-primary">
                                    {format!("Continue as {}", me.user.username)}
                                </A>
                            </p>
                        }.into_any(),
                        _ => view! {
                            <p class="hero-actions">
                                <A href="/signup" attr:class="button button-primary">"Create an account"</A>
                                <A href="/login" attr:class="button button-quiet">"Log in"</A>
                            </p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
