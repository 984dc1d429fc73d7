//! Webhooks in the admin console: the endpoints, the form that adds or
//! changes one, a new secret, deletion, and each endpoint's delivery log
//! with "Send again". Plain form posts, so all of it works without
//! JavaScript. A secret is shown once: the post that makes it carries it
//! to the next page in a sealed cookie (`ssr::once`), which that page's
//! first load takes.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use latchkey_types::webhooks::{
    DeliveryPage, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent,
};

use super::{ConsoleCard, RequireAdmin};
use crate::components::form::{action_error, ErrorNote, Field, FormAlert, Submit};
use crate::components::time::{date, utc};
use crate::error::AppError;
use crate::i18n::td_string as td;
use crate::locale::Locale;
use crate::pages::security::Pager;
use crate::tr;

/// What an endpoint's page shows: the endpoint, a page of its deliveries,
/// and the secret the last post made, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookDetail {
    pub webhook: Webhook,
    pub deliveries: DeliveryPage,
    pub fresh_secret: Option<String>,
    /// Until when the secret before the last rotation still signs, while
    /// it does (the endpoint keeps the time after it passed).
    pub previous_signs_until: Option<i64>,
}

/// A just-added endpoint and its secret, while it has not been shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JustAdded {
    pub webhook: Webhook,
    pub fresh_secret: Option<String>,
}

/// The sealed cookie's purpose for endpoint `id`'s new secret (`ssr::once`).
#[cfg(feature = "ssr")]
fn secret_purpose(id: &str) -> String {
    format!("webhook-new-secret:{id}")
}

#[server(prefix = "/fn", endpoint = "admin_webhooks")]
pub async fn admin_webhooks() -> Result<Vec<Webhook>, AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    Ok(request::services()?.webhooks().list(&admin).await?)
}

/// Endpoint `id` with its deliveries older than `before` (empty: the newest).
#[server(prefix = "/fn", endpoint = "admin_webhook")]
pub async fn admin_webhook(id: String, before: String) -> Result<WebhookDetail, AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let webhooks = services.webhooks();
    let webhook = webhooks.get(&admin, &id).await?;
    let before = Some(before.trim()).filter(|b| !b.is_empty());
    let deliveries = webhooks.deliveries(&admin, &id, before).await?;
    let fresh_secret = crate::ssr::once::take(&services, &secret_purpose(&id), &admin.user.id)
        .into_iter()
        .next();
    let now = latchkey_core::now();
    let previous_signs_until = webhook.previous_secret_until.filter(|until| *until > now);
    Ok(WebhookDetail {
        webhook,
        deliveries,
        fresh_secret,
        previous_signs_until,
    })
}

/// The endpoint the add form just made, with its secret on the first load.
#[server(prefix = "/fn", endpoint = "added_webhook")]
pub async fn added_webhook(id: String) -> Result<JustAdded, AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let webhook = services.webhooks().get(&admin, &id).await?;
    let fresh_secret = crate::ssr::once::take(&services, &secret_purpose(&id), &admin.user.id)
        .into_iter()
        .next();
    Ok(JustAdded {
        webhook,
        fresh_secret,
    })
}

/// Adds an endpoint (`id` empty) or changes one. The ticked events arrive
/// together (`events[user.created]=on`) and `enabled` only when ticked: a
/// box left unticked sends nothing.
#[server(prefix = "/fn", endpoint = "save_webhook")]
pub async fn save_webhook(
    #[server(default)] id: String,
    #[server(default)] url: String,
    #[server(default)] description: String,
    #[server(default)] events: std::collections::BTreeMap<String, String>,
    #[server(default)] enabled: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    // An unknown name is refused, not dropped: dropping every name would
    // quietly widen the endpoint to all events.
    if events
        .keys()
        .any(|name| WebhookEvent::parse(name).is_none())
    {
        return Err(
            latchkey_core::Error::invalid("events", crate::error::Reason::UnknownChoice).into(),
        );
    }
    let spec = latchkey_types::webhooks::WebhookSpec {
        url,
        description,
        events: WebhookEvent::ALL
            .into_iter()
            .filter(|event| events.contains_key(event.as_str()))
            .collect(),
        enabled: !enabled.is_empty(),
    };
    let webhooks = services.webhooks();
    if id.is_empty() {
        let made = webhooks.create(&admin, &spec).await?;
        let id = made.webhook.id;
        crate::ssr::once::carry(
            &services,
            &secret_purpose(&id),
            &admin.user.id,
            &[made.secret],
        );
        leptos_axum::redirect(&format!("/admin/webhooks/new?added={id}"));
    } else {
        webhooks.update(&admin, &id, &spec).await?;
        leptos_axum::redirect(&format!("/admin/webhooks/{id}?done=saved"));
    }
    Ok(())
}

/// A new secret; the previous one keeps signing beside it for a day.
#[server(prefix = "/fn", endpoint = "new_webhook_secret")]
pub async fn new_webhook_secret(id: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let made = services.webhooks().rotate_secret(&admin, &id).await?;
    crate::ssr::once::carry(
        &services,
        &secret_purpose(&id),
        &admin.user.id,
        &[made.secret],
    );
    leptos_axum::redirect(&format!("/admin/webhooks/{id}?done=secret"));
    Ok(())
}

/// Sends delivery `message_id` again, back to the log's page `before`.
#[server(prefix = "/fn", endpoint = "send_webhook_again")]
pub async fn send_webhook_again(
    id: String,
    message_id: String,
    #[server(default)] before: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    request::services()?
        .webhooks()
        .send_again(&admin, &id, &message_id)
        .await?;
    let query = super::query_string(&[("done", "sent"), ("before", before.trim())]);
    leptos_axum::redirect(&format!("/admin/webhooks/{id}?{query}"));
    Ok(())
}

/// Deletes an endpoint once the `confirm` box is ticked.
#[server(prefix = "/fn", endpoint = "delete_webhook")]
pub async fn delete_webhook(
    id: String,
    #[server(default)] confirm: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    if confirm != "yes" {
        // The page words this itself (see `DeleteForm`).
        return Err(
            latchkey_core::Error::invalid("confirm", crate::error::Reason::UnknownChoice).into(),
        );
    }
    request::services()?.webhooks().delete(&admin, &id).await?;
    // A flag, not the address: a link could put any words into the banner.
    leptos_axum::redirect("/admin/webhooks?deleted");
    Ok(())
}

/// What the form's box for `event` says.
fn event_label(locale: Locale, event: WebhookEvent) -> &'static str {
    match event {
        WebhookEvent::UserCreated => td!(locale, admin_webhooks.event.user_created),
        WebhookEvent::EmailVerified => td!(locale, admin_webhooks.event.email_verified),
        WebhookEvent::LoggedIn => td!(locale, admin_webhooks.event.logged_in),
        WebhookEvent::LoginFailed => td!(locale, admin_webhooks.event.login_failed),
        WebhookEvent::PasswordChanged => td!(locale, admin_webhooks.event.password_changed),
        WebhookEvent::PasswordReset => td!(locale, admin_webhooks.event.password_reset),
        WebhookEvent::EmailChanged => td!(locale, admin_webhooks.event.email_changed),
        WebhookEvent::Disabled => td!(locale, admin_webhooks.event.disabled),
        WebhookEvent::Enabled => td!(locale, admin_webhooks.event.enabled),
        WebhookEvent::Deleted => td!(locale, admin_webhooks.event.deleted),
        WebhookEvent::RoleChanged => td!(locale, admin_webhooks.event.role_changed),
        WebhookEvent::SessionRevoked => td!(locale, admin_webhooks.event.session_revoked),
    }
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let webhooks = Resource::new_blocking(|| (), |_| admin_webhooks());
    view! {
        <Title text=tr!(admin_webhooks.title)/>
        <RequireAdmin admin=move |_| view! {
            <ConsoleCard heading=tr!(admin_webhooks.heading)>
                {super::super::address_says("deleted").then(|| view! {
                    <div class="banner banner-ok" role="status" data-testid="admin-done">
                        {tr!(admin_webhooks.deleted)}
                    </div>
                })}
                <p class="muted">{tr!(admin_webhooks.intro)}</p>
                <p><A href="/admin/webhooks/new" attr:class="button button-primary" attr:data-testid="add-webhook">{tr!(admin_webhooks.add)}</A></p>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match webhooks.await {
                            Ok(list) if list.is_empty() => view! { <NoWebhooks/> }.into_any(),
                            Ok(list) => view! { <WebhookTable list/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </ConsoleCard>
        }/>
    }
}

/// The empty list: what a webhook is, before there is one.
#[component]
fn NoWebhooks() -> impl IntoView {
    view! {
        <div class="stack" data-testid="webhooks-none">
            <p>{tr!(admin_webhooks.none)}</p>
            <p class="muted">{tr!(admin_webhooks.none_signing)}</p>
            // The API reference is the server's page, not one of the app's.
            <p class="muted">{crate::tr_view!(admin_webhooks.payloads, <docs> = <a href="/api/v1/docs"/>)}</p>
        </div>
    }
}

#[component]
fn WebhookTable(list: Vec<Webhook>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="webhooks">
                <thead>
                    <tr>
                        <th scope="col">{tr!(admin_webhooks.col_endpoint)}</th>
                        <th scope="col">{tr!(admin_webhooks.col_events)}</th>
                        <th scope="col">{tr!(admin_webhooks.col_state)}</th>
                        <th scope="col">{tr!(admin_webhooks.col_deliveries)}</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|webhook| {
                        let href = format!("/admin/webhooks/{}", webhook.id);
                        let url = webhook.url.clone();
                        let description = Some(webhook.description.clone()).filter(|d| !d.is_empty());
                        view! {
                            <tr data-testid="webhook-row">
                                <td>
                                    <A href=href attr:class="strong">{url}</A>
                                    {description.map(|d| view! { <br/><span class="muted">{d}</span> })}
                                </td>
                                <td><EventsSummary events=webhook.events.clone()/></td>
                                <td><StateBadges webhook=webhook.clone()/></td>
                                <td class="nowrap"><DeliveryCounts webhook/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// "All events", the one or two it receives, or how many.
#[component]
fn EventsSummary(events: Vec<WebhookEvent>) -> impl IntoView {
    match events.len() {
        0 => view! { <span>{tr!(admin_webhooks.all_events)}</span> }.into_any(),
        1 | 2 => events
            .into_iter()
            .map(|event| view! { <code>{event.as_str()}</code> " " })
            .collect_view()
            .into_any(),
        count => {
            view! { <span>{tr!(admin_webhooks.events_count, count = count)}</span> }.into_any()
        }
    }
}

/// On or off, and why it is off when Latchkey turned it off.
#[component]
fn StateBadges(webhook: Webhook) -> impl IntoView {
    let failing = webhook.failing_since.is_some();
    let state = if webhook.enabled {
        view! { <span class="badge badge-ok">{tr!(admin_webhooks.on)}</span> }.into_any()
    } else if webhook.disabled_reason.as_deref() == Some("failing") {
        view! { <span class="badge badge-danger">{tr!(admin_webhooks.off_failing)}</span> }
            .into_any()
    } else {
        view! { <span class="badge">{tr!(admin_webhooks.off)}</span> }.into_any()
    };
    view! {
        <span data-testid="webhook-state">
            {state}
            {(webhook.enabled && failing).then(|| view! {
                " " <span class="badge badge-warn">{tr!(admin_webhooks.failing)}</span>
            })}
        </span>
    }
}

/// Waiting now, and delivered and failed in the last 24 hours.
#[component]
fn DeliveryCounts(webhook: Webhook) -> impl IntoView {
    view! {
        <span>{tr!(admin_webhooks.pending, count = webhook.pending)}</span>
        <br/>
        <span class="muted">
            {tr!(admin_webhooks.last_day, delivered = webhook.delivered_24h, failed = webhook.failed_24h)}
        </span>
    }
}

#[component]
pub fn NewWebhookPage() -> impl IntoView {
    let save = ServerAction::<SaveWebhook>::new();
    // Set by the redirect after adding one; a refused post comes back
    // without it.
    let added =
        move || use_query_map().with(|q| q.get("added").filter(|_| q.get("__err").is_none()));
    let made = Resource::new_blocking(added, |id| async move {
        match id {
            Some(id) => added_webhook(id).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <RequireAdmin admin=move |_| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || Suspend::new(async move {
                    let (title, heading, body) = match made.await {
                        Ok(Some(added)) => (
                            tr!(admin_webhooks.added_title),
                            tr!(admin_webhooks.added_heading),
                            view! { <Added added/> }.into_any(),
                        ),
                        Ok(None) => (
                            tr!(admin_webhooks.new_title),
                            tr!(admin_webhooks.new_heading),
                            view! { <WebhookForm webhook=None save/> }.into_any(),
                        ),
                        Err(error) => (
                            tr!(admin_webhooks.new_title),
                            tr!(admin_webhooks.new_heading),
                            view! { <ErrorNote error/> }.into_any(),
                        ),
                    };
                    view! {
                        <Title text=title/>
                        <ConsoleCard heading=heading>
                            <p><a href="/admin/webhooks">{tr!(admin_webhooks.all_endpoints)}</a></p>
                            {body}
                        </ConsoleCard>
                    }
                })}
            </Suspense>
        }/>
    }
}

/// After adding: the secret, this once, and the way to the endpoint.
#[component]
fn Added(added: JustAdded) -> impl IntoView {
    let JustAdded {
        webhook,
        fresh_secret,
    } = added;
    let href = format!("/admin/webhooks/{}", webhook.id);
    view! {
        <div class="banner banner-ok" role="status" data-testid="admin-done">{tr!(admin_webhooks.done_added)}</div>
        <dl class="facts">
            <div><dt>{tr!(admin_webhooks.url)}</dt><dd><code data-testid="webhook-url">{webhook.url.clone()}</code></dd></div>
            <div><dt>{tr!(admin_webhooks.col_events)}</dt><dd><EventsSummary events=webhook.events.clone()/></dd></div>
            <div><dt>{tr!(admin_webhooks.col_state)}</dt><dd><StateBadges webhook=webhook.clone()/></dd></div>
        </dl>
        {match fresh_secret {
            Some(secret) => view! { <SecretOnce secret/> }.into_any(),
            None => view! { <p class="muted" data-testid="webhook-secret-gone">{tr!(admin_webhooks.secret_gone)}</p> }.into_any(),
        }}
        <p><A href=href attr:class="button button-primary" attr:data-testid="webhook-open">{tr!(admin_webhooks.open_endpoint)}</A></p>
    }
}

/// A secret just made, with the warning that it will not be shown again.
#[component]
fn SecretOnce(secret: String) -> impl IntoView {
    view! {
        <div class="card card-notice" data-testid="webhook-secret-once">
            <h2>{tr!(admin_webhooks.secret_heading)}</h2>
            <p>{tr!(admin_webhooks.secret_once)}</p>
            <p><code class="secret" data-testid="webhook-secret">{secret}</code></p>
            <p class="muted">{tr!(admin_webhooks.secret_use)}</p>
        </div>
    }
}

#[component]
pub fn WebhookPage() -> impl IntoView {
    let save = ServerAction::<SaveWebhook>::new();
    let secret = ServerAction::<NewWebhookSecret>::new();
    let send = ServerAction::<SendWebhookAgain>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let id = move || use_params_map().with(|p| p.get("id").unwrap_or_default());
    let before = move || use_query_map().with(|q| q.get("before").unwrap_or_default());
    let detail = Resource::new_blocking(
        move || {
            (
                id(),
                before(),
                save.version().get(),
                secret.version().get(),
                send.version().get(),
            )
        },
        |(id, before, _, _, _)| admin_webhook(id, before),
    );
    view! {
        <Title text=tr!(admin_webhooks.endpoint_title)/>
        <RequireAdmin admin=move |_| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! {
                            <WebhookView detail save secret send delete/>
                        }.into_any(),
                        Err(error) => view! {
                            <ConsoleCard heading=tr!(admin_webhooks.heading)>
                                <ErrorNote error/>
                                <p><a href="/admin/webhooks">{tr!(admin_webhooks.all_endpoints)}</a></p>
                            </ConsoleCard>
                        }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

#[component]
fn WebhookView(
    detail: WebhookDetail,
    save: ServerAction<SaveWebhook>,
    secret: ServerAction<NewWebhookSecret>,
    send: ServerAction<SendWebhookAgain>,
    delete: ServerAction<DeleteWebhook>,
) -> impl IntoView {
    let WebhookDetail {
        webhook,
        deliveries,
        fresh_secret,
        previous_signs_until,
    } = detail;
    let done = move || {
        use_query_map()
            .with(|q| q.get("done").filter(|_| q.get("__err").is_none()))
            .and_then(|done| match done.as_str() {
                "saved" => Some(tr!(admin_webhooks.done_saved)),
                "secret" => Some(tr!(admin_webhooks.done_secret)),
                "sent" => Some(tr!(admin_webhooks.done_sent)),
                _ => None,
            })
    };
    let secret_error = action_error(secret);
    let locale = crate::locale::current();
    let id = webhook.id.clone();
    let secret_id = id.clone();
    let url = webhook.url.clone();
    let description = Some(webhook.description.clone()).filter(|d| !d.is_empty());
    // The card's children are moved into it; the sections below keep `webhook`.
    let card = webhook.clone();
    view! {
        <ConsoleCard heading={url.clone()} testid="webhook-url">
            <p><a href="/admin/webhooks">{tr!(admin_webhooks.all_endpoints)}</a></p>
            {move || done().map(|message| view! {
                <div class="banner banner-ok" role="status" data-testid="admin-done">{message}</div>
            })}
            {fresh_secret.map(|secret| view! { <SecretOnce secret/> })}
            <dl class="facts">
                {description.map(|d| view! {
                    <div><dt>{tr!(admin_webhooks.description)}</dt><dd>{d}</dd></div>
                })}
                <div><dt>{tr!(admin_webhooks.col_state)}</dt><dd><StateBadges webhook=card.clone()/></dd></div>
                {card.failing_since.map(|since| view! {
                    <div><dt>{tr!(admin_webhooks.failing_since)}</dt><dd>{utc(since, locale)}</dd></div>
                })}
                <div>
                    <dt>{tr!(admin_webhooks.col_events)}</dt>
                    <dd data-testid="webhook-events"><EventsSummary events=card.events.clone()/></dd>
                </div>
                <div><dt>{tr!(admin_webhooks.col_deliveries)}</dt><dd><DeliveryCounts webhook=card.clone()/></dd></div>
                {previous_signs_until.map(|until| view! {
                    <div><dt>{tr!(admin_webhooks.previous_until)}</dt><dd>{utc(until, locale)}</dd></div>
                })}
                <div><dt>{tr!(admin_webhooks.created)}</dt><dd>{date(card.created_at, locale)}</dd></div>
            </dl>
        </ConsoleCard>

        <DeliveryLog id=id.clone() deliveries send/>

        <section class="card card-wide">
            <h2>{tr!(admin_webhooks.settings)}</h2>
            <WebhookForm webhook=Some(webhook.clone()) save/>
        </section>

        <section class="card card-wide">
            <h2>{tr!(admin_webhooks.secret_section)}</h2>
            <p class="muted">{tr!(admin_webhooks.secret_intro)}</p>
            <ActionForm action=secret attr:class="stack">
                <FormAlert error=secret_error/>
                <input type="hidden" name="id" value=secret_id/>
                <p><Submit label=tr!(admin_webhooks.new_secret) busy_label=tr!(common.busy) class="button-quiet"/></p>
            </ActionForm>
        </section>

        <DeleteForm id url delete/>
    }
}

/// The endpoint's deliveries, newest first, each with "Send again".
#[component]
fn DeliveryLog(
    id: String,
    deliveries: DeliveryPage,
    send: ServerAction<SendWebhookAgain>,
) -> impl IntoView {
    let error = action_error(send);
    // The log's page (`?before=`), empty for the newest; "Send again"
    // comes back to it.
    let before = use_query_map().with_untracked(|q| q.get("before").unwrap_or_default());
    let DeliveryPage {
        deliveries,
        next_before,
    } = deliveries;
    let base = format!("/admin/webhooks/{id}?");
    let newest = !before.is_empty();
    view! {
        <section class="card card-wide">
            <h2>{tr!(admin_webhooks.log_heading)}</h2>
            <p class="muted">{tr!(admin_webhooks.log_intro)}</p>
            <FormAlert error/>
            {if deliveries.is_empty() {
                view! { <p class="muted" data-testid="deliveries-none">{tr!(admin_webhooks.log_none)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="deliveries">
                            <thead>
                                <tr>
                                    <th scope="col">{tr!(admin_webhooks.col_type)}</th>
                                    <th scope="col">{tr!(admin_webhooks.col_status)}</th>
                                    <th scope="col">{tr!(admin_webhooks.col_attempts)}</th>
                                    <th scope="col">{tr!(admin_webhooks.col_answer)}</th>
                                    <th scope="col">{tr!(admin_webhooks.col_latency)}</th>
                                    <th scope="col">{tr!(admin_webhooks.col_time)}</th>
                                    <th scope="col">{tr!(admin_webhooks.col_actions)}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {deliveries.into_iter().map(|delivery| view! {
                                    <DeliveryRow delivery id=id.clone() before=before.clone() send/>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {(newest || next_before.is_some()).then(|| view! { <Pager next_before newest base/> })}
        </section>
    }
}

#[component]
fn DeliveryRow(
    delivery: WebhookDelivery,
    id: String,
    before: String,
    send: ServerAction<SendWebhookAgain>,
) -> impl IntoView {
    let locale = crate::locale::current();
    let (class, status) = match delivery.status {
        DeliveryStatus::Pending => ("badge", tr!(admin_webhooks.status_pending)),
        DeliveryStatus::Delivered => ("badge badge-ok", tr!(admin_webhooks.status_delivered)),
        DeliveryStatus::Failed => ("badge badge-danger", tr!(admin_webhooks.status_failed)),
    };
    let next_try = delivery
        .next_attempt_at
        .map(|at| tr!(admin_webhooks.next_try, time = utc(at, locale)));
    // The receiver's status when it answered; what went wrong otherwise
    // (the worker's words, in English, like the server's log).
    let answer = match (delivery.last_status, delivery.last_error.clone()) {
        (None, None) => view! { "—" }.into_any(),
        (status, error) => {
            let gap = (status.is_some() && error.is_some()).then_some(" ");
            view! {
                {status.map(|s| view! { <code>{format!("HTTP {s}")}</code> })}
                {gap}
                {error.map(|e| view! { <span class="muted">{e}</span> })}
            }
            .into_any()
        }
    };
    view! {
        <tr data-testid="delivery-row">
            <td><code>{delivery.kind.as_str()}</code></td>
            <td>
                <span class=class data-testid="delivery-status">{status}</span>
                {next_try.map(|next| view! { <br/><span class="muted nowrap">{next}</span> })}
            </td>
            <td data-testid="delivery-attempts">{delivery.attempts}</td>
            <td data-testid="delivery-answer">{answer}</td>
            <td class="nowrap">{delivery.latency_ms.map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))}</td>
            <td class="nowrap">{utc(delivery.created_at, locale)}</td>
            <td>
                <ActionForm action=send attr:class="inline-form">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="message_id" value=delivery.message_id.clone()/>
                    <input type="hidden" name="before" value=before/>
                    <button type="submit" class="button button-quiet nowrap">{tr!(admin_webhooks.send_again)}</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// Deletion, once a box says it is meant.
#[component]
fn DeleteForm(id: String, url: String, delete: ServerAction<DeleteWebhook>) -> impl IntoView {
    let error = action_error(delete);
    let invalid = Memo::new(move |_| error.get().is_some_and(|e| e.is_for("confirm")));
    view! {
        <section class="card card-wide card-danger">
            <h2>{tr!(admin_webhooks.delete_heading)}</h2>
            <p class="muted">{tr!(admin_webhooks.delete_intro)}</p>
            <ActionForm action=delete attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <input type="hidden" name="id" value=id/>
                <div class="field" class:field-invalid=move || invalid.get()>
                    <label class="checkbox">
                        <input
                            type="checkbox"
                            id="field-confirm"
                            name="confirm"
                            value="yes"
                            // A page rendered with the refusal opens on it, as `Field` does.
                            autofocus=invalid.get_untracked()
                            aria-invalid=move || invalid.get().then_some("true")
                            aria-describedby=move || invalid.get().then_some("field-confirm-error")
                        />
                        <span>{tr!(admin_webhooks.delete_confirm, url = url)}</span>
                    </label>
                    // The page's own words: the refusal's reason is generic.
                    <p class="field-error" id="field-confirm-error" aria-live="polite">
                        {move || invalid.get().then(|| tr!(admin_webhooks.delete_confirm_missing))}
                    </p>
                </div>
                <p>
                    <Submit label=tr!(admin_webhooks.delete_button) busy_label=tr!(common.busy) class="button-danger"/>
                </p>
            </ActionForm>
        </section>
    }
}

/// The endpoint's settings: empty to add one, filled to change it.
#[component]
fn WebhookForm(webhook: Option<Webhook>, save: ServerAction<SaveWebhook>) -> impl IntoView {
    let error = action_error(save);
    let editing = webhook.is_some();
    let webhook = webhook.unwrap_or_else(|| Webhook {
        id: String::new(),
        url: String::new(),
        description: String::new(),
        events: Vec::new(),
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        previous_secret_until: None,
        pending: 0,
        delivered_24h: 0,
        failed_24h: 0,
        created_at: 0,
        updated_at: 0,
    });
    let failing_off = !webhook.enabled && webhook.disabled_reason.as_deref() == Some("failing");
    let Webhook {
        id,
        url,
        description,
        events,
        enabled,
        ..
    } = webhook;
    let invalid = move |field: &'static str| move || error.get().is_some_and(|e| e.is_for(field));
    let message = move |field: &'static str| {
        move || {
            error
                .get()
                .filter(|e| e.is_for(field))
                .map(|e| e.localized(crate::locale::current()))
        }
    };
    let locale = crate::locale::current();
    view! {
        <ActionForm action=save attr:class="stack" attr:novalidate=true attr:data-testid="webhook-form">
            <FormAlert error/>
            <input type="hidden" name="id" value=id/>
            <Field
                label=tr!(admin_webhooks.url)
                name="url"
                kind="url"
                autocomplete="url"
                value=url
                maxlength=2000
                placeholder="https://"
                hint=tr!(admin_webhooks.url_hint)
                error
            />
            // Not `Field`: the page's script keeps what was typed here
            // for a refused post (`data-keep`); the server keeps the
            // address (`ssr::kept`).
            <div class="field" class:field-invalid=invalid("description")>
                <label for="field-description">{tr!(admin_webhooks.description)}</label>
                <input
                    id="field-description"
                    name="description"
                    type="text"
                    autocomplete="off"
                    maxlength="200"
                    value=description
                    data-keep=""
                    aria-invalid=move || invalid("description")().then_some("true")
                    aria-describedby="field-description-hint field-description-error"
                />
                <p class="field-hint" id="field-description-hint">{tr!(admin_webhooks.description_hint)}</p>
                <p class="field-error" id="field-description-error" aria-live="polite">{message("description")}</p>
            </div>
            <fieldset
                class="choices"
                class:field-invalid=invalid("events")
                aria-describedby="field-events-hint field-events-error"
            >
                <legend>{tr!(admin_webhooks.events_legend)}</legend>
                <p class="field-hint" id="field-events-hint">{tr!(admin_webhooks.events_hint)}</p>
                {WebhookEvent::ALL.into_iter().map(|event| view! {
                    <label class="checkbox">
                        <input
                            type="checkbox"
                            name=format!("events[{}]", event.as_str())
                            checked=events.contains(&event)
                            data-keep=""
                        />
                        <span>{event_label(locale, event)} " " <code>{event.as_str()}</code></span>
                    </label>
                }).collect_view()}
                <p class="field-error" id="field-events-error" aria-live="polite">{message("events")}</p>
            </fieldset>
            <fieldset class="choices">
                <legend>{tr!(admin_webhooks.state_legend)}</legend>
                <label class="checkbox">
                    <input type="checkbox" name="enabled" checked=enabled data-keep=""/>
                    <span>{tr!(admin_webhooks.enabled)}</span>
                </label>
                {failing_off.then(|| view! { <p class="field-hint">{tr!(admin_webhooks.failing_hint)}</p> })}
            </fieldset>
            <p>
                <Submit
                    label=if editing { tr!(admin_webhooks.save) } else { tr!(admin_webhooks.add_button) }
                    busy_label=tr!(common.busy)
                />
            </p>
        </ActionForm>
    }
}
