//! The site header: the product's name (and logo) and the signed-in state.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::language::LanguageSwitcher;
use crate::model::Role;
use crate::session::use_session;
use crate::tr;

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    let brand = crate::brand::current();
    let mark = match brand.logo.clone() {
        // Beside the name, the logo adds nothing for a screen reader.
        Some(src) => {
            view! { <img class="brand-logo" src=src alt="" width="28" height="28"/> }.into_any()
        }
        None => view! { <span class="brand-mark" aria-hidden="true">"◆"</span> }.into_any(),
    };
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                {mark}
                {brand.product.clone()}
            </A>
            <div class="header-end">
                <LanguageSwitcher/>
                <nav aria-label=tr!(header.account)>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            match session.me.await {
                                Ok(Some(me)) => view! {
                                    {(me.user.role == Role::Admin).then(|| view! {
                                        <A href="/admin" attr:class="nav-link" attr:data-testid="nav-admin">{tr!(header.admin)}</A>
                                    })}
                                    <A href="/profile" attr:class="nav-user" attr:data-testid="nav-user">
                                        <span class="avatar" aria-hidden="true">
                                            {me.user.username.chars().next().map(|c| c.to_ascii_uppercase())}
                                        </span>
                                        <span class="nav-user-name">{me.user.username.clone()}</span>
                                    </A>
                                    <ActionForm action=session.logout attr:class="inline-form">
                                        <button
                                            type="submit"
                                            class="button button-quiet"
                                        >
                                            {tr!(header.log_out)}
                                        </button>
                                    </ActionForm>
                                }
                                .into_any(),
                                _ => view! {
                                    <A href="/login" attr:class="button button-quiet">{tr!(header.log_in)}</A>
                                    <A href="/signup" attr:class="button button-primary">{tr!(header.sign_up)}</A>
                                }
                                .into_any(),
                            }
                        })}
                    </Suspense>
                </nav>
            </div>
        </header>
    }
}
