use crate::tr;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=tr!(not_found.title)/>
        <section class="card">
            <h1>{tr!(not_found.title)}</h1>
            <p>{tr!(not_found.text)}</p>
            <p><A href="/">{tr!(not_found.home)}</A></p>
        </section>
    }
}
