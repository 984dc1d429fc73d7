//! `/api/v1/admin/webhooks`: endpoints a product receives its users'
//! account events at, signed with Standard Webhooks. Admins only; every
//! change is logged with the acting admin. A secret is in the answer that
//! made it (registering, or a new secret) and never again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::webhook_model::{
    DeliveryPage, Webhook, WebhookDelivery, WebhookSpec, WebhookWithSecret,
};
use latchkey_core::Services;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{AdminAuth, ApiJson, ApiQuery};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, add_webhook))
        .routes(routes!(webhook, change_webhook, delete_webhook))
        .routes(routes!(new_secret))
        .routes(routes!(deliveries))
        .routes(routes!(send_again))
}

/// Every endpoint, oldest first, with its deliveries pending and those of
/// the last day.
#[utoipa::path(get, path = "/admin/webhooks", tag = "webhooks", security(("bearer" = [])), responses(
    (status = 200, description = "The endpoints", body = [Webhook]),
))]
async fn list_webhooks(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(services.webhooks().list(&admin).await?))
}

/// Register an endpoint. Its `secret` is in this answer only.
#[utoipa::path(post, path = "/admin/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = WebhookSpec,
    responses(
        (status = 201, description = "The endpoint and its secret", body = WebhookWithSecret),
        (status = 422, description = "`invalid_input`: `url` (https, public), `description`, or too many endpoints", body = ErrorBody),
    ))]
async fn add_webhook(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    ApiJson(spec): ApiJson<WebhookSpec>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let made = services.webhooks().create(&admin, &spec).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// One endpoint.
#[utoipa::path(get, path = "/admin/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = Webhook),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn webhook(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(services.webhooks().get(&admin, &id).await?))
}

/// Change an endpoint (all of it). Turning it on again after Latchkey
/// turned it off for failing starts a new day's grace.
#[utoipa::path(put, path = "/admin/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = WebhookSpec,
    responses(
        (status = 200, description = "The endpoint as changed", body = Webhook),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
    ))]
async fn change_webhook(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<WebhookSpec>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(services.webhooks().update(&admin, &id, &spec).await?))
}

/// Delete an endpoint and its delivery log; what it had pending is not sent.
#[utoipa::path(delete, path = "/admin/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn delete_webhook(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.webhooks().delete(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret, shown this once. The previous one keeps signing beside it
/// (a second `v1,` signature) for 24 hours, so the receiver can switch
/// without refusing a delivery.
#[utoipa::path(post, path = "/admin/webhooks/{id}/secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint and its new secret", body = WebhookWithSecret),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn new_secret(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    Ok(Json(services.webhooks().rotate_secret(&admin, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// Older than this `message_id` (the previous page's `next_before`).
    before: Option<String>,
}

/// An endpoint's deliveries, newest first: status, attempts, the last
/// answer and how long it took.
#[utoipa::path(get, path = "/admin/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id"), DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn deliveries(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let page = services
        .webhooks()
        .deliveries(&admin, &id, query.before.as_deref())
        .await?;
    Ok(Json(page))
}

/// Send a delivery again, with the same `webhook-id` (receivers that
/// already have it can ignore it).
#[utoipa::path(post, path = "/admin/webhooks/{id}/deliveries/{message_id}/send-again", tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id"),
        ("message_id" = String, Path, description = "The delivery's `webhook-id`"),
    ),
    responses(
        (status = 202, description = "Queued", body = WebhookDelivery),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn send_again(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<WebhookDelivery>), ApiError> {
    let delivery = services
        .webhooks()
        .send_again(&admin, &id, &message_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
