//! Accounts at other providers that sign in here ("Sign in with Kakao"):
//! the list, linking another (a post to the server's `/login/with/{id}`,
//! off to the provider), removing one; and the confirmation of a link that
//! waited for this sign-in (`/security/link`).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use super::RequireUser;
use crate::components::form::{action_error, CurrentPassword, ErrorNote, FormAlert, Submit};
use crate::components::time::date;
use crate::components::upstream::{label, UpstreamProblem};
use crate::error::AppError;
use crate::model::{LinkedIdentity, Me, UpstreamInfo};
use crate::tr;

/// What the page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Linked {
    pub providers: Vec<UpstreamInfo>,
    pub linked: Vec<LinkedIdentity>,
}

#[server(prefix = "/fn", endpoint = "linked_accounts")]
pub async fn linked_accounts() -> Result<Linked, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let upstream = services.upstream();
    Ok(Linked {
        providers: upstream.providers(),
        linked: upstream.identities(&auth.user.id).await?,
    })
}

#[server(prefix = "/fn", endpoint = "unlink_account")]
pub async fn unlink_account(
    #[server(default)] provider: String,
    #[server(default)] password: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .upstream()
        .unlink(&auth, &provider, password)
        .await?;
    leptos_axum::redirect("/security/accounts?removed");
    Ok(())
}

#[component]
pub fn LinkedAccountsPage() -> impl IntoView {
    let unlink = ServerAction::<UnlinkAccount>::new();
    let state = Resource::new_blocking(move || unlink.version().get(), |_| linked_accounts());
    view! {
        <Title text=tr!(linked.title)/>
        <RequireUser signed_in=move |me| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || { let me = me.clone(); Suspend::new(async move {
                    match state.await {
                        Ok(state) => view! { <Accounts me state unlink/> }.into_any(),
                        Err(error) => view! {
                            <section class="card"><ErrorNote error/></section>
                        }.into_any(),
                    }
                })}}
            </Suspense>
        }/>
    }
}

#[component]
fn Accounts(me: Me, state: Linked, unlink: ServerAction<UnlinkAccount>) -> impl IntoView {
    let locale = crate::locale::current();
    let has_password = me.user.has_password;
    let name_of = {
        let providers = state.providers.clone();
        move |id: &str| {
            providers
                .iter()
                .find(|p| p.id == id)
                .map_or_else(|| id.to_owned(), |p| p.name.clone())
        }
    };
    // Only a provider offered here is named (the address is anyone's to
    // write).
    let linked_now = super::address_says("linked")
        .then(|| leptos_router::hooks::use_query_map().with_untracked(|q| q.get("upstream")))
        .flatten()
        .and_then(|id| state.providers.iter().find(|p| p.id == id).cloned())
        .map(|p| tr!(linked.linked_now, provider = p.name));
    let removed = super::address_says("removed").then(|| tr!(linked.removed_now));
    let unlinked: Vec<UpstreamInfo> = state
        .providers
        .iter()
        .filter(|p| !state.linked.iter().any(|l| l.provider == p.id))
        .cloned()
        .collect();
    let linked = state.linked.clone();
    let any = !linked.is_empty();
    view! {
        <section class="card">
            <h1>{tr!(linked.title)}</h1>
            <p class="muted">{tr!(linked.intro)}</p>
            <UpstreamProblem/>
            <p class="form-success" role="status" aria-live="polite">{linked_now}{removed}</p>
            {match any {
                true => view! {
                    <ul class="passkey-list" aria-label=tr!(linked.list_label) data-testid="linked-accounts">
                        {linked.iter().cloned().map(|identity| view! {
                            <li>
                                <strong>{name_of(&identity.provider)}</strong>
                                <span>{identity.email}</span>
                                <span class="muted">{tr!(linked.linked_on, date = date(identity.created_at, locale))}</span>
                                <span class="muted">{match identity.last_used_at {
                                    Some(at) => tr!(passkeys.last_used, date = date(at, locale)),
                                    None => tr!(passkeys.never_used).to_owned(),
                                }}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
                false => view! { <p data-testid="no-linked-accounts">{tr!(linked.none)}</p> }.into_any(),
            }}
            <p class="switch"><A href="/security">{tr!(security.title)}</A></p>
            <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
        </section>
        {(!unlinked.is_empty()).then(|| view! {
            <section class="card">
                <h2>{tr!(linked.link_heading)}</h2>
                <p class="muted">{tr!(linked.link_intro)}</p>
                // A plain form to the server's routes, one button each (its
                // `formaction`), so one password serves them all; the answer
                // is a page that moves on to the provider.
                <form method="post" action=format!("/login/with/{}", unlinked[0].id) class="stack">
                    <input type="hidden" name="link" value="1"/>
                    {has_password.then(|| view! {
                        <div class="field">
                            <label for="link-password">{tr!(passkeys.password)}</label>
                            <input id="link-password" type="password" name="password" autocomplete="current-password"/>
                        </div>
                    })}
                    <div class="upstream-buttons" data-testid="link-buttons">
                        {unlinked.iter().map(|provider| view! {
                            <button
                                type="submit"
                                formaction=format!("/login/with/{}", provider.id)
                                class=format!("button upstream upstream-{}", provider.id)
                            >
                                {label(provider, locale)}
                            </button>
                        }).collect_view()}
                    </div>
                </form>
                {(!has_password).then(|| view! { <p class="muted">{tr!(common.no_password)}</p> })}
            </section>
        })}
        {any.then(|| view! { <Remove linked=state.linked.clone() names=state.providers.clone() has_password unlink/> })}
    }
}

#[component]
fn Remove(
    linked: Vec<LinkedIdentity>,
    names: Vec<UpstreamInfo>,
    has_password: bool,
    unlink: ServerAction<UnlinkAccount>,
) -> impl IntoView {
    let error = action_error(unlink);
    view! {
        <section class="card card-danger">
            <h2>{tr!(linked.remove_heading)}</h2>
            <p class="muted">{tr!(linked.remove_intro)}</p>
            <ActionForm action=unlink attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <div class="field">
                    <label for="remove-which">{tr!(linked.which)}</label>
                    <select id="remove-which" name="provider">
                        {linked.into_iter().map(|identity| {
                            let name = names
                                .iter()
                                .find(|p| p.id == identity.provider)
                                .map_or_else(|| identity.provider.clone(), |p| p.name.clone());
                            view! { <option value=identity.provider>{format!("{name} · {}", identity.email)}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <CurrentPassword has_password label=tr!(passkeys.password) id="remove-password" error/>
                <Submit label=tr!(linked.remove) busy_label=tr!(common.busy) class="button-danger"/>
            </ActionForm>
        </section>
    }
}

/// A link waiting for this sign-in, as the confirmation page shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Waiting {
    pub provider: String,
    pub email: String,
}

#[server(prefix = "/fn", endpoint = "waiting_link")]
pub async fn waiting_link() -> Result<Option<Waiting>, AppError> {
    use crate::ssr::{cookies, request};
    let auth = request::require_auth()?;
    let services = request::services()?;
    let Some(token) = request::cookie(cookies::LINKING) else {
        return Ok(None);
    };
    let waiting = services.upstream().pending(&auth, &token).await?;
    // Expired, or another account's: the browser stops coming here.
    if waiting.is_none() {
        request::set_cookies([cookies::upstream(&services.config, cookies::LINKING, None)]);
    }
    Ok(waiting.map(|pending| Waiting {
        provider: pending.provider.name,
        email: pending.email,
    }))
}

#[server(prefix = "/fn", endpoint = "confirm_link")]
pub async fn confirm_link(#[server(default)] answer: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let auth = request::require_auth()?;
    let services = request::services()?;
    let token = request::cookie(cookies::LINKING);
    request::set_cookies([cookies::upstream(&services.config, cookies::LINKING, None)]);
    let Some(token) = token.filter(|_| answer == "link") else {
        leptos_axum::redirect("/profile");
        return Ok(());
    };
    let provider = services.upstream().confirm(&auth, &token).await?;
    leptos_axum::redirect(&format!("/security/accounts?upstream={provider}&linked"));
    Ok(())
}

#[component]
pub fn ConfirmLinkPage() -> impl IntoView {
    let confirm = ServerAction::<ConfirmLink>::new();
    let error = action_error(confirm);
    let waiting = Resource::new_blocking(|| (), |_| waiting_link());
    view! {
        <Title text=tr!(linked.confirm_title)/>
        <RequireUser signed_in=move |_| view! {
            <section class="card auth-card">
                <h1>{tr!(linked.confirm_title)}</h1>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match waiting.await {
                            Ok(Some(waiting)) => view! {
                                <p>{tr!(linked.confirm_intro, provider = waiting.provider.clone(), email = waiting.email.clone())}</p>
                                <ActionForm action=confirm attr:class="stack">
                                    <FormAlert error/>
                                    <input type="hidden" name="answer" value="link"/>
                                    <Submit label=tr!(linked.confirm, provider = waiting.provider) busy_label=tr!(common.busy)/>
                                </ActionForm>
                                <ActionForm action=confirm attr:class="stack">
                                    <input type="hidden" name="answer" value="cancel"/>
                                    <button type="submit" class="button button-quiet">{tr!(linked.not_now)}</button>
                                </ActionForm>
                            }.into_any(),
                            Ok(None) => view! {
                                <p data-testid="no-waiting-link">{tr!(linked.nothing_waiting)}</p>
                                <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
                            }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        }/>
    }
}
