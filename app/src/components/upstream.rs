//! "Sign in with …" buttons for the other identity providers this
//! deployment offers, and what their refusals say. Plain forms (no
//! island): they work before the WASM loads, and post to the server's
//! `/login/with/{id}`, which sends the browser on to the provider.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::error::{reason_text, Reason};
use crate::i18n::td_string as t;
use crate::locale::Locale;
use crate::model::UpstreamInfo;
use crate::tr;

/// The providers people may sign in with here (pages render on the
/// server).
pub fn providers() -> Vec<UpstreamInfo> {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request::services()
            .map(|s| s.upstream().providers())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        Vec::new()
    }
}

/// A provider's name for the page's words, from its id in the address.
pub fn name_of(id: &str) -> Option<String> {
    providers().into_iter().find(|p| p.id == id).map(|p| p.name)
}

/// The button's words: the provider's own for its sign-in button, in each
/// language; the operator's own provider by its name.
pub fn label(provider: &UpstreamInfo, locale: Locale) -> String {
    match provider.id.as_str() {
        "google" => t!(locale, upstream.google).into(),
        "kakao" => t!(locale, upstream.kakao).into(),
        "naver" => t!(locale, upstream.naver).into(),
        "github" => t!(locale, upstream.github).into(),
        _ => t!(locale, upstream.other, name = provider.name.clone()),
    }
}

/// One form per provider; `next` is where a sign-in lands.
#[component]
pub fn UpstreamButtons(next: Option<String>) -> impl IntoView {
    let list = providers();
    let locale = crate::locale::current();
    (!list.is_empty()).then(|| {
        view! {
            <p class="divider" aria-hidden="true"><span>{tr!(login.or)}</span></p>
            <div class="upstream-buttons" data-testid="upstream-buttons">
                {list.into_iter().map(|provider| {
                    let next = next.clone().unwrap_or_default();
                    view! {
                        <form method="post" action=format!("/login/with/{}", provider.id)>
                            <input type="hidden" name="next" value=next/>
                            <button type="submit" class=format!("button upstream upstream-{}", provider.id)>
                                {label(&provider, locale)}
                            </button>
                        </form>
                    }
                }).collect_view()}
            </div>
        }
    })
}

/// What the address says went wrong at a provider
/// (`?upstream=kakao&problem=upstream_cancelled`), in words: the reason's
/// text, with the provider's name where it helps. Nothing for a provider
/// or reason it does not know (the address is anyone's to write).
pub fn problem_text(locale: Locale) -> Option<String> {
    let (id, problem, count) = use_query_map().with_untracked(|q| {
        (
            q.get("upstream"),
            q.get("problem"),
            q.get("count").and_then(|c| c.parse::<u64>().ok()),
        )
    });
    let provider = name_of(&id?)?;
    let problem = problem?;
    if problem == "prove" {
        return Some(t!(locale, upstream.prove, provider = provider.clone()));
    }
    let reason: Reason = serde_json::from_value(serde_json::Value::String(problem)).ok()?;
    Some(match reason {
        Reason::UpstreamCancelled => t!(locale, upstream.cancelled, provider = provider),
        Reason::UpstreamNoEmail => t!(locale, upstream.no_email, provider = provider),
        Reason::UpstreamFailed => t!(locale, upstream.failed, provider = provider),
        Reason::UpstreamTaken => t!(locale, upstream.taken, provider = provider),
        other => reason_text(other, locale, count.unwrap_or_default()),
    })
}

/// The problem the address names, as an alert (or a notice, when the
/// person only needs to sign in to link).
#[component]
pub fn UpstreamProblem() -> impl IntoView {
    let locale = crate::locale::current();
    let prove = use_query_map().with_untracked(|q| q.get("problem").as_deref() == Some("prove"));
    problem_text(locale).map(|text| match prove {
        true => view! { <p class="notice" role="status" data-testid="upstream-prove">{text}</p> }
            .into_any(),
        false => {
            view! { <p class="form-alert" role="alert" data-testid="upstream-problem">{text}</p> }
                .into_any()
        }
    })
}
