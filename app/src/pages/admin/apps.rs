//! Apps in the admin console (OpenID Connect clients): the list, the form
//! that registers or changes one, a new secret, deletion. Plain form posts,
//! so all of it works without JavaScript. A secret is shown once: the post
//! that makes it carries it to the app's page in a sealed cookie
//! (`ssr::once`), which that page's first load takes.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use super::{ConsoleCard, RequireAdmin};
use crate::components::form::{action_error, ErrorNote, Field, FormAlert, Submit};
use crate::components::time::date;
use crate::error::AppError;
use crate::model::App;
use crate::tr;

/// What an app's page shows: the app, where apps find Latchkey, and the
/// secret the last post made, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppDetail {
    pub app: App,
    pub issuer: String,
    pub fresh_secret: Option<String>,
}

/// The sealed cookie's purpose for `client_id`'s secret (`ssr::once`).
#[cfg(feature = "ssr")]
fn secret_purpose(client_id: &str) -> String {
    format!("app-secret:{client_id}")
}

#[server(prefix = "/fn", endpoint = "admin_apps")]
pub async fn admin_apps() -> Result<Vec<App>, AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    Ok(request::services()?.apps().list(&admin).await?)
}

#[server(prefix = "/fn", endpoint = "admin_app")]
pub async fn admin_app(client_id: String) -> Result<AppDetail, AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let app = services.apps().get(&admin, &client_id).await?;
    let fresh_secret =
        crate::ssr::once::take(&services, &secret_purpose(&client_id), &admin.user.id)
            .into_iter()
            .next();
    Ok(AppDetail {
        app,
        issuer: services.config.issuer.clone(),
        fresh_secret,
    })
}

/// Registers an app (`client_id` empty) or changes one. The form's
/// choices arrive together (`choices[email]=on`, `choices[kind]=public`):
/// a box left unticked sends nothing.
#[server(prefix = "/fn", endpoint = "save_app")]
pub async fn save_app(
    #[server(default)] client_id: String,
    #[server(default)] name: String,
    #[server(default)] logo_url: String,
    #[server(default)] redirect_uris: String,
    #[server(default)] post_logout_redirect_uris: String,
    #[server(default)] choices: std::collections::BTreeMap<String, String>,
    #[server(default)] jwks: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let lines =
        |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_owned).collect() };
    let chosen = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|name| choices.contains_key(**name))
            .map(|name| (*name).to_owned())
            .collect()
    };
    let jwks =
        match jwks.trim() {
            "" => None,
            text => Some(serde_json::from_str(text).map_err(|_| {
                latchkey_core::Error::invalid("jwks", crate::error::Reason::AppKeys)
            })?),
        };
    let mut scopes = vec!["openid".to_owned()];
    scopes.extend(chosen(&["profile", "email", "offline_access"]));
    let spec = crate::model::AppSpec {
        name,
        logo_url: Some(logo_url.trim().to_owned()).filter(|l| !l.is_empty()),
        redirect_uris: lines(&redirect_uris),
        post_logout_redirect_uris: lines(&post_logout_redirect_uris),
        confidential: choices.get("kind").map(String::as_str) == Some("confidential"),
        scopes,
        grant_types: chosen(&["authorization_code", "refresh_token", "client_credentials"]),
        first_party: choices.contains_key("first_party"),
        id_token_alg: choices.get("id_token_alg").cloned(),
        jwks,
    };
    let apps = services.apps();
    if client_id.is_empty() {
        let (app, secret) = apps.register(&admin, &spec).await?;
        if let Some(secret) = secret {
            crate::ssr::once::carry(
                &services,
                &secret_purpose(&app.client_id),
                &admin.user.id,
                &[secret],
            );
        }
        leptos_axum::redirect(&format!("/admin/apps/{}?done=registered", app.client_id));
    } else {
        apps.update(&admin, &client_id, &spec).await?;
        leptos_axum::redirect(&format!("/admin/apps/{client_id}?done=saved"));
    }
    Ok(())
}

/// A new secret for a confidential app; the old one stops working at once.
#[server(prefix = "/fn", endpoint = "new_app_secret")]
pub async fn new_app_secret(client_id: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let secret = services.apps().rotate_secret(&admin, &client_id).await?;
    crate::ssr::once::carry(
        &services,
        &secret_purpose(&client_id),
        &admin.user.id,
        &[secret],
    );
    leptos_axum::redirect(&format!("/admin/apps/{client_id}?done=secret"));
    Ok(())
}

/// Deletes an app once `confirm` repeats its name.
#[server(prefix = "/fn", endpoint = "delete_app")]
pub async fn delete_app(client_id: String, confirm: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let apps = services.apps();
    let app = apps.get(&admin, &client_id).await?;
    if confirm.trim() != app.name {
        return Err(
            latchkey_core::Error::invalid("confirm", crate::error::Reason::ConfirmAppName).into(),
        );
    }
    apps.delete(&admin, &client_id).await?;
    // A flag, not the name: a link could put any words into the banner.
    leptos_axum::redirect("/admin/apps?deleted");
    Ok(())
}

#[component]
pub fn AppsPage() -> impl IntoView {
    let apps = Resource::new_blocking(|| (), |_| admin_apps());
    view! {
        <Title text=tr!(admin_apps.title)/>
        <RequireAdmin admin=move |_| view! {
            <ConsoleCard heading=tr!(admin_apps.heading)>
                {super::super::address_says("deleted").then(|| view! {
                    <div class="banner banner-ok" role="status" data-testid="admin-done">
                        {tr!(admin_apps.deleted)}
                    </div>
                })}
                <p class="muted">{tr!(admin_apps.intro)}</p>
                <p><A href="/admin/apps/new" attr:class="button button-primary" attr:data-testid="register-app">{tr!(admin_apps.register)}</A></p>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match apps.await {
                            Ok(list) if list.is_empty() => view! {
                                <p class="muted" data-testid="apps-none">{tr!(admin_apps.none)}</p>
                            }.into_any(),
                            Ok(list) => view! { <AppTable list/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </ConsoleCard>
        }/>
    }
}

#[component]
fn AppTable(list: Vec<App>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="apps">
                <thead>
                    <tr>
                        <th scope="col">{tr!(admin_apps.col_app)}</th>
                        <th scope="col">{tr!(admin_apps.col_kind)}</th>
                        <th scope="col">{tr!(admin_apps.col_redirects)}</th>
                        <th scope="col">{tr!(admin_apps.col_created)}</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|app| {
                        let created = date(app.created_at, crate::locale::current());
                        let first = app.redirect_uris.first().cloned().unwrap_or_else(|| "—".into());
                        let more = app.redirect_uris.len().saturating_sub(1);
                        let (client_id, name) = (app.client_id.clone(), app.name.clone());
                        view! {
                            <tr data-testid="app-row">
                                <td>
                                    <A href=format!("/admin/apps/{client_id}") attr:class="strong">{name}</A>
                                    <br/>
                                    <code class="muted">{client_id.clone()}</code>
                                </td>
                                <td><KindBadges app/></td>
                                <td>
                                    <code>{first}</code>
                                    {(more > 0).then(|| view! { " " <span class="muted">{tr!(admin_apps.and_more, count = more)}</span> })}
                                </td>
                                <td class="nowrap">{created}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn KindBadges(app: App) -> impl IntoView {
    view! {
        {if app.confidential { tr!(admin_apps.confidential) } else { tr!(admin_apps.public) }}
        {app.first_party.then(|| view! { " " <span class="badge badge-admin">{tr!(admin_apps.first_party_badge)}</span> })}
    }
}

#[component]
pub fn NewAppPage() -> impl IntoView {
    let save = ServerAction::<SaveApp>::new();
    view! {
        <Title text=tr!(admin_apps.new_title)/>
        <RequireAdmin admin=move |_| view! {
            <ConsoleCard heading=tr!(admin_apps.new_heading)>
                <p><A href="/admin/apps">{tr!(admin_apps.all_apps)}</A></p>
                <AppForm app=None save/>
            </ConsoleCard>
        }/>
    }
}

#[component]
pub fn AppPage() -> impl IntoView {
    let save = ServerAction::<SaveApp>::new();
    let secret = ServerAction::<NewAppSecret>::new();
    let delete = ServerAction::<DeleteApp>::new();
    let id = move || use_params_map().with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new_blocking(
        move || (id(), save.version().get(), secret.version().get()),
        |(id, _, _)| admin_app(id),
    );
    view! {
        <Title text=tr!(admin_apps.app_fallback_title)/>
        <RequireAdmin admin=move |_| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <AppView detail save secret delete/> }.into_any(),
                        Err(error) => view! {
                            <ConsoleCard heading=tr!(admin_apps.heading)>
                                <ErrorNote error/>
                                <p><A href="/admin/apps">{tr!(admin_apps.all_apps)}</A></p>
                            </ConsoleCard>
                        }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

#[component]
fn AppView(
    detail: AppDetail,
    save: ServerAction<SaveApp>,
    secret: ServerAction<NewAppSecret>,
    delete: ServerAction<DeleteApp>,
) -> impl IntoView {
    let AppDetail {
        app,
        issuer,
        fresh_secret,
    } = detail;
    let done = move || {
        use_query_map()
            .with(|q| q.get("done"))
            .and_then(|done| match done.as_str() {
                "registered" => Some(tr!(admin_apps.done_registered)),
                "saved" => Some(tr!(admin_apps.done_saved)),
                "secret" => Some(tr!(admin_apps.done_secret)),
                _ => None,
            })
    };
    let secret_error = action_error(secret);
    let delete_error = action_error(delete);
    let client_id = app.client_id.clone();
    let name = app.name.clone();
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    // The card's children are moved into it; the sections below keep `app`.
    let card = app.clone();
    view! {
        <Title text=tr!(admin_apps.app_title, name = name.clone())/>
        <ConsoleCard heading={name.clone()} testid="app-name">
            <p><A href="/admin/apps">{tr!(admin_apps.all_apps)}</A></p>
            {move || done().map(|message| view! {
                <div class="banner banner-ok" role="status" data-testid="admin-done">{message}</div>
            })}
            {fresh_secret.map(|fresh| view! {
                <div class="card card-notice" data-testid="app-secret-once">
                    <h2>{tr!(admin_apps.secret_heading)}</h2>
                    <p>{tr!(admin_apps.secret_once)}</p>
                    <p><code class="secret" data-testid="app-secret">{fresh}</code></p>
                </div>
            })}
            <dl class="facts">
                <div><dt>{tr!(admin_apps.client_id)}</dt><dd><code data-testid="app-client-id">{card.client_id.clone()}</code></dd></div>
                <div><dt>{tr!(admin_apps.col_kind)}</dt><dd><KindBadges app=card.clone()/></dd></div>
                <div>
                    <dt>{tr!(admin_apps.proves_with)}</dt>
                    <dd data-testid="app-auth-method">{match card.auth_method.as_str() {
                        "private_key_jwt" => tr!(admin_apps.proves_with_keys),
                        "client_secret" => tr!(admin_apps.proves_with_secret),
                        _ => tr!(admin_apps.proves_with_pkce),
                    }}</dd>
                </div>
                <div><dt>{tr!(admin_apps.discovery)}</dt><dd><code>{discovery}</code></dd></div>
                <div><dt>{tr!(admin_apps.col_created)}</dt><dd>{date(card.created_at, crate::locale::current())}</dd></div>
            </dl>
        </ConsoleCard>

        <section class="card card-wide">
            <h2>{tr!(admin_apps.settings)}</h2>
            <AppForm app=Some(app.clone()) save/>
        </section>

        {(app.auth_method == "client_secret").then(|| {
            let client_id = client_id.clone();
            view! {
                <section class="card card-wide">
                    <h2>{tr!(admin_apps.secret_section)}</h2>
                    <p class="muted">{tr!(admin_apps.secret_intro)}</p>
                    <ActionForm action=secret attr:class="stack">
                        <FormAlert error=secret_error/>
                        <input type="hidden" name="client_id" value=client_id/>
                        <p><Submit label=tr!(admin_apps.new_secret) busy_label=tr!(common.busy) class="button-quiet"/></p>
                    </ActionForm>
                </section>
            }
        })}

        <section class="card card-wide card-danger">
            <h2>{tr!(admin_apps.delete_heading)}</h2>
            <p class="muted">{tr!(admin_apps.delete_intro)}</p>
            <ActionForm action=delete attr:novalidate=true attr:class="stack">
                <FormAlert error=delete_error/>
                <input type="hidden" name="client_id" value=client_id.clone()/>
                <Field label=tr!(admin_apps.delete_confirm, name = name.clone()) name="confirm" error=delete_error/>
                <p>
                    <Submit
                        label=tr!(admin_apps.delete_button, name = name.clone())
                        busy_label=tr!(common.busy)
                        class="button-danger"
                    />
                </p>
            </ActionForm>
        </section>
    }
}

/// The app's settings: empty to register one, filled to change it.
#[component]
fn AppForm(app: Option<App>, save: ServerAction<SaveApp>) -> impl IntoView {
    let error = action_error(save);
    let editing = app.is_some();
    let app = app.unwrap_or_else(|| App {
        client_id: String::new(),
        name: String::new(),
        logo_url: None,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        confidential: true,
        scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
        grant_types: vec!["authorization_code".into()],
        first_party: false,
        id_token_alg: "EdDSA".into(),
        auth_method: "client_secret".into(),
        jwks: None,
        created_at: 0,
        updated_at: 0,
    });
    let has_scope = |scope: &str| app.scopes.iter().any(|s| s == scope);
    let has_grant = |grant: &str| app.grant_types.iter().any(|g| g == grant);
    let (profile, email, offline) = (
        has_scope("profile"),
        has_scope("email"),
        has_scope("offline_access"),
    );
    let (code, refresh, credentials) = (
        has_grant("authorization_code"),
        has_grant("refresh_token"),
        has_grant("client_credentials"),
    );
    let check = move |name: &'static str, on: bool, label: &'static str, code: &'static str| {
        view! {
            <label class="checkbox">
                <input type="checkbox" name=name checked=on data-keep=""/>
                <span>{label} " " <code>{code}</code></span>
            </label>
        }
    };
    let invalid = move |field: &'static str| move || error.get().is_some_and(|e| e.is_for(field));
    let message = move |field: &'static str| {
        move || {
            error
                .get()
                .filter(|e| e.is_for(field))
                .map(|e| e.localized(crate::locale::current()))
        }
    };
    let text_area = move |field: &'static str,
                          label: &'static str,
                          hint: &'static str,
                          value: String| {
        let id = format!("field-{field}");
        view! {
            <div class="field" class:field-invalid=invalid(field)>
                <label for=id.clone()>{label}</label>
                <textarea
                    id=id.clone()
                    name=field
                    rows="3"
                    spellcheck="false"
                    autocapitalize="off"
                    data-keep=""
                    aria-invalid=move || invalid(field)().then_some("true")
                    aria-describedby=format!("{id}-hint {id}-error")
                >{value}</textarea>
                <p class="field-hint" id=format!("{id}-hint")>{hint}</p>
                <p class="field-error" id=format!("{id}-error") aria-live="polite">{message(field)}</p>
            </div>
        }
    };
    let confidential = app.confidential;
    let uses_keys = app.jwks.is_some();
    let jwks_text = app
        .jwks
        .as_ref()
        .and_then(|keys| serde_json::to_string_pretty(keys).ok())
        .unwrap_or_default();
    view! {
        <ActionForm action=save attr:class="stack" attr:novalidate=true attr:data-testid="app-form">
            <FormAlert error/>
            <input type="hidden" name="client_id" value=app.client_id.clone()/>
            <Field label=tr!(admin_apps.name) name="name" id="app-name" autocomplete="name" value=app.name.clone() maxlength=80 error/>
            <Field
                label=tr!(admin_apps.logo_url)
                name="logo_url"
                kind="url"
                autocomplete="url"
                value=app.logo_url.clone().unwrap_or_default()
                required=false
                hint=tr!(admin_apps.logo_hint)
                error
            />
            {text_area("redirect_uris", tr!(admin_apps.redirect_uris), tr!(admin_apps.redirect_hint), app.redirect_uris.join("\n"))}
            {text_area("post_logout_redirect_uris", tr!(admin_apps.logout_uris), tr!(admin_apps.logout_hint), app.post_logout_redirect_uris.join("\n"))}
            {(!editing || uses_keys).then(|| text_area(
                "jwks",
                tr!(admin_apps.jwks),
                tr!(admin_apps.jwks_hint),
                jwks_text.clone(),
            ))}
            {if editing {
                view! {
                    <input type="hidden" name="choices[kind]" value=if confidential { "confidential" } else { "public" }/>
                }.into_any()
            } else {
                view! {
                    <fieldset class="choices" class:field-invalid=invalid("confidential")>
                        <legend>{tr!(admin_apps.kind_legend)}</legend>
                        <label class="checkbox">
                            <input type="radio" name="choices[kind]" value="confidential" checked=confidential data-keep=""/>
                            <span>{tr!(admin_apps.kind_confidential)}</span>
                        </label>
                        <label class="checkbox">
                            <input type="radio" name="choices[kind]" value="public" checked=!confidential data-keep=""/>
                            <span>{tr!(admin_apps.kind_public)}</span>
                        </label>
                    </fieldset>
                }.into_any()
            }}
            <fieldset class="choices">
                <legend>{tr!(admin_apps.scopes_legend)}</legend>
                {check("choices[profile]", profile, tr!(admin_apps.scope_profile), "profile")}
                {check("choices[email]", email, tr!(admin_apps.scope_email), "email")}
                {check("choices[offline_access]", offline, tr!(admin_apps.scope_offline_access), "offline_access")}
            </fieldset>
            <fieldset class="choices" aria-describedby="field-grant_types-error">
                <legend>{tr!(admin_apps.grants_legend)}</legend>
                {check("choices[authorization_code]", code, tr!(admin_apps.grant_authorization_code), "authorization_code")}
                {check("choices[refresh_token]", refresh, tr!(admin_apps.grant_refresh_token), "refresh_token")}
                {check("choices[client_credentials]", credentials, tr!(admin_apps.grant_client_credentials), "client_credentials")}
                <p class="field-error" id="field-grant_types-error" aria-live="polite">{message("grant_types")}</p>
            </fieldset>
            <fieldset class="choices">
                <legend>{tr!(admin_apps.trust_legend)}</legend>
                {check("choices[first_party]", app.first_party, tr!(admin_apps.first_party), "first-party")}
                <p class="field-hint">{tr!(admin_apps.first_party_hint)}</p>
            </fieldset>
            <fieldset class="choices">
                <legend>{tr!(admin_apps.id_token_alg)}</legend>
                {[("EdDSA", "EdDSA (Ed25519)"), ("ES256", "ES256 (P-256)")].map(|(alg, label)| view! {
                    <label class="checkbox">
                        <input type="radio" name="choices[id_token_alg]" value=alg checked=app.id_token_alg == alg data-keep=""/>
                        <span>{label}</span>
                    </label>
                })}
            </fieldset>
            <p>
                <Submit
                    label=if editing { tr!(admin_apps.save) } else { tr!(admin_apps.register_button) }
                    busy_label=tr!(common.busy)
                />
            </p>
        </ActionForm>
    }
}
