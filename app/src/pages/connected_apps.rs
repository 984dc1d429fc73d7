//! `/security/apps`: the apps the user let sign them in through Latchkey,
//! with a way to take each one's access back.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RequireUser;
use crate::components::form::{action_error, ErrorNote, FormAlert};
use crate::components::time::date;
use crate::error::AppError;
use crate::model::ConnectedApp;
use crate::tr;

#[server(prefix = "/fn", endpoint = "connected_apps")]
pub async fn connected_apps() -> Result<Vec<ConnectedApp>, AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    Ok(request::services()?.oidc().connected(&auth).await?)
}

#[server(prefix = "/fn", endpoint = "disconnect_app")]
pub async fn disconnect_app(client_id: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .oidc()
        .disconnect(&auth, &client_id)
        .await?;
    leptos_axum::redirect("/security/apps?removed");
    Ok(())
}

#[component]
pub fn ConnectedAppsPage() -> impl IntoView {
    let remove = ServerAction::<DisconnectApp>::new();
    let apps = Resource::new_blocking(move || remove.version().get(), |_| connected_apps());
    let error = action_error(remove);
    let removed = super::address_says("removed");
    view! {
        <Title text=tr!(connected_apps.title)/>
        <RequireUser signed_in=move |_| view! {
            <section class="card">
                <h1>{tr!(connected_apps.title)}</h1>
                <p class="muted">{tr!(connected_apps.intro)}</p>
                {removed.then(|| view! { <p class="form-success" role="status">{tr!(connected_apps.removed)}</p> })}
                <FormAlert error/>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match apps.await {
                            Ok(list) if list.is_empty() => view! {
                                <p data-testid="connected-apps-none">{tr!(connected_apps.none)}</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <ul class="sessions" data-testid="connected-apps">
                                    {list.into_iter().map(|app| view! { <AppRow app action=remove/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="switch"><A href="/security">{tr!(connected_apps.back)}</A></p>
            </section>
        }/>
    }
}

#[component]
fn AppRow(app: ConnectedApp, action: ServerAction<DisconnectApp>) -> impl IntoView {
    let scopes = ["openid", "profile", "email", "offline_access"]
        .into_iter()
        .filter(|scope| app.scopes.iter().any(|s| s == scope))
        .filter_map(|scope| match scope {
            "profile" => Some(tr!(connected_apps.scope_profile)),
            "email" => Some(tr!(connected_apps.scope_email)),
            "offline_access" => Some(tr!(connected_apps.scope_offline_access)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" · ");
    let locale = crate::locale::current();
    let label = tr!(connected_apps.remove_named, name = app.name.clone());
    let since = tr!(connected_apps.since, date = date(app.since, locale));
    view! {
        <li class="session" data-testid="connected-app">
            <div class="session-main">
                <p class="session-device">{app.name.clone()}</p>
                <p class="session-meta muted">{since}</p>
                {(!scopes.is_empty()).then(|| view! { <p class="session-meta muted">{scopes}</p> })}
            </div>
            <ActionForm action=action attr:class="inline-form">
                <input type="hidden" name="client_id" value=app.client_id.clone()/>
                <button type="submit" class="button button-quiet" aria-label=label>
                    {tr!(connected_apps.remove)}
                </button>
            </ActionForm>
        </li>
    }
}
