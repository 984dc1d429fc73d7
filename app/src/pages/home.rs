use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::session::use_session;
use crate::tr;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    let brand = crate::brand::current();
    let product = brand.product.clone();
    // Latchkey under its own name says what it is; a product's says whose
    // account this is.
    let (headline, lead) = if brand.is_latchkey() {
        (tr!(home.headline).to_owned(), tr!(home.lead).to_owned())
    } else {
        (
            tr!(home.branded_headline, product = product.clone()),
            tr!(home.branded_lead, product = product.clone()),
        )
    };
    view! {
        <Title text=""/>
        {move || use_query_map().with(|q| q.get("deleted").is_some()).then(|| view! {
            <div class="banner" role="status" data-testid="deleted-notice">{tr!(home.deleted, product = product.clone())}</div>
        })}
        <section class="hero">
            <h1>{headline}</h1>
            <p class="lead">{lead}</p>
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
