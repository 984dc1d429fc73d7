use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::session::use_session;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text=""/>
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
