//! `/oauth/consent`: "App wants your email and profile", Allow or Deny.
//! The server's authorization endpoint sends the browser here with the
//! request sealed in `?request=` (`Oidc::park`), for a signed-in user who
//! has not allowed this app these scopes yet. Both answers go back to the
//! app: a code, or `access_denied`. `/oauth/problem` says why a request
//! could not go back to its app at all.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::RequireUser;
use crate::components::form::{action_error, error_text, FormAlert, Submit};
use crate::error::AppError;
use crate::{tr, tr_view};

/// What the consent screen shows of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDetails {
    pub app_name: String,
    pub logo_url: Option<String>,
    pub scopes: Vec<String>,
}

#[cfg(feature = "ssr")]
fn unparked(request: &str) -> Result<latchkey_core::oidc::Authorization, AppError> {
    use crate::error::{ErrorCode, Reason};
    crate::ssr::request::services()?
        .oidc()
        .unpark(request)
        .ok_or_else(|| AppError::of(ErrorCode::LinkExpired, Reason::AuthorizationExpired))
}

#[server(prefix = "/fn", endpoint = "consent_request")]
pub async fn consent_request(request: String) -> Result<ConsentDetails, AppError> {
    crate::ssr::request::require_auth()?;
    let a = unparked(&request)?;
    Ok(ConsentDetails {
        app_name: a.app_name,
        logo_url: a.logo_url,
        scopes: a.scopes,
    })
}

/// Allow or deny; either way the browser goes back to the app.
#[server(prefix = "/fn", endpoint = "decide_consent")]
pub async fn decide_consent(request: String, allow: bool) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    let a = unparked(&request)?;
    let to = request::services()?.oidc().decide(&auth, &a, allow).await?;
    leptos_axum::redirect(&to);
    Ok(())
}

#[component]
pub fn ConsentPage() -> impl IntoView {
    let request = move || use_query_map().read().get("request").unwrap_or_default();
    view! {
        <Title text=tr!(consent.title)/>
        <RequireUser signed_in=move |me| {
            let details = Resource::new_blocking(request, consent_request);
            view! {
                <section class="card auth-card consent">
                    <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                        {move || {
                            let name = me.user.username.clone();
                            Suspend::new(async move {
                                match details.await {
                                    Ok(details) => view! { <Ask details name request=request()/> }.into_any(),
                                    Err(err) => view! {
                                        <h1>{tr!(consent.unusable)}</h1>
                                        <p class="form-alert" role="alert">{error_text(&err)}</p>
                                        <p class="muted">{tr!(consent.start_again)}</p>
                                    }.into_any(),
                                }
                            })
                        }}
                    </Suspense>
                </section>
            }
        }/>
    }
}

#[component]
fn Ask(details: ConsentDetails, name: String, request: String) -> impl IntoView {
    let allow = ServerAction::<DecideConsent>::new();
    let deny = ServerAction::<DecideConsent>::new();
    let allow_error = action_error(allow);
    let deny_error = action_error(deny);
    let app = details.app_name.clone();
    // In a fixed order, who you are first.
    let wants = ["openid", "profile", "email", "offline_access"]
        .into_iter()
        .filter(|scope| details.scopes.iter().any(|s| s == scope))
        .filter_map(|scope| match scope {
            "openid" => Some(tr!(consent.scope_openid)),
            "profile" => Some(tr!(consent.scope_profile)),
            "email" => Some(tr!(consent.scope_email)),
            "offline_access" => Some(tr!(consent.scope_offline_access)),
            _ => None,
        })
        .map(|line| view! { <li>{line}</li> })
        .collect_view();
    let deny_request = request.clone();
    view! {
        {details.logo_url.map(|src| view! { <img class="app-logo" src=src alt="" width="48" height="48"/> })}
        <h1>{tr_view!(consent.heading, app = app, <b> = <strong/>)}</h1>
        <p class="muted">{tr!(consent.signed_in_as, name = name)}</p>
        <p>{tr!(consent.wants)}</p>
        <ul class="scopes" data-testid="consent-scopes">{wants}</ul>
        <p class="muted">{tr!(consent.later)}</p>
        <div class="consent-actions">
            <ActionForm action=allow attr:class="stack">
                <FormAlert error=allow_error/>
                <input type="hidden" name="request" value=request/>
                <input type="hidden" name="allow" value="true"/>
                <Submit label=tr!(consent.allow) busy_label=tr!(consent.allowing)/>
            </ActionForm>
            <ActionForm action=deny attr:class="stack">
                <FormAlert error=deny_error/>
                <input type="hidden" name="request" value=deny_request/>
                <input type="hidden" name="allow" value="false"/>
                <Submit label=tr!(consent.deny) busy_label=tr!(consent.denying) class="button-quiet"/>
            </ActionForm>
        </div>
    }
}

/// `/oauth/problem?why=…`: a request that cannot go back to its app.
#[component]
pub fn ProblemPage() -> impl IntoView {
    let why = move || use_query_map().read().get("why").unwrap_or_default();
    view! {
        <Title text=tr!(consent.problem_title)/>
        <section class="card auth-card">
            <h1>{tr!(consent.problem_title)}</h1>
            <p role="alert" data-testid="oauth-problem">
                {move || match why().as_str() {
                    "unknown_app" => tr!(consent.unknown_app),
                    "bad_redirect" => tr!(consent.bad_redirect),
                    _ => tr!(consent.failed),
                }}
            </p>
            <p class="muted">{tr!(consent.start_again)}</p>
        </section>
    }
}
