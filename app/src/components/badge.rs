//! Small status labels shown beside a fact.

use leptos::prelude::*;

use crate::tr;

/// "Verified" / "Not verified" beside an email address.
#[component]
pub fn VerifiedBadge(verified: bool) -> impl IntoView {
    if verified {
        view! { <span class="badge badge-ok">{tr!(common.verified)}</span> }.into_any()
    } else {
        view! { <span class="badge badge-warn">{tr!(common.not_verified)}</span> }.into_any()
    }
}
