//! The page footer: the product's support address and legal links, when
//! the operator set them (`SUPPORT_EMAIL`, `TERMS_URL`, `PRIVACY_URL`).

use leptos::prelude::*;

use crate::{brand, tr, tr_view};

#[component]
pub fn Footer() -> impl IntoView {
    let brand = brand::current();
    let email = brand.support_email.clone();
    let terms = brand.terms_url.clone();
    let privacy = brand.privacy_url.clone();
    (email.is_some() || terms.is_some() || privacy.is_some()).then(|| {
        view! {
            <footer class="site-footer">
                {email.map(|email| {
                    let href = format!("mailto:{email}");
                    view! { <span>{tr_view!(footer.help, email = email.clone(), <mail> = <a href=href.clone()/>)}</span> }
                })}
                {terms.map(|href| view! { <a href=href>{tr!(footer.terms)}</a> })}
                {privacy.map(|href| view! { <a href=href>{tr!(footer.privacy)}</a> })}
            </footer>
        }
    })
}
