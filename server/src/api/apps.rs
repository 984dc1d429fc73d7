//! `/api/v1/admin/apps`: apps that sign their users in through Latchkey
//! (OpenID Connect clients). Admins only; every change is logged with the
//! acting admin. A confidential app's secret is in the answer that made it
//! (registering, or a new secret) and never again.

use app::model::{App, AppSpec};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::Services;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{AdminAuth, ApiJson};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, register_app))
        .routes(routes!(app, change_app, delete_app))
        .routes(routes!(new_secret))
}

/// An app with its secret, shown this once.
#[derive(Serialize, ToSchema)]
struct AppWithSecret {
    #[serde(flatten)]
    app: App,
    /// For `client_secret_basic` or `client_secret_post`; absent for a
    /// public app.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// The secret alone.
#[derive(Serialize, ToSchema)]
struct Secret {
    client_secret: String,
}

/// Every registered app.
#[utoipa::path(get, path = "/admin/apps", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, description = "The apps, by name", body = [App]),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
    (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
))]
async fn list_apps(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<Vec<App>>, ApiError> {
    Ok(Json(services.apps().list(&admin).await?))
}

/// Register an app. A confidential one's `client_secret` is in this answer
/// only.
#[utoipa::path(post, path = "/admin/apps", tag = "admin", security(("bearer" = [])),
    request_body = AppSpec,
    responses(
        (status = 201, description = "The app, with its secret if confidential", body = AppWithSecret),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 422, description = "`invalid_input`: the field and why", body = ErrorBody),
    ))]
async fn register_app(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    ApiJson(spec): ApiJson<AppSpec>,
) -> Result<(StatusCode, Json<AppWithSecret>), ApiError> {
    let (app, client_secret) = services.apps().register(&admin, &spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(AppWithSecret { app, client_secret }),
    ))
}

/// One app.
#[utoipa::path(get, path = "/admin/apps/{client_id}", tag = "admin", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 200, description = "The app", body = App),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn app(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(client_id): Path<String>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(services.apps().get(&admin, &client_id).await?))
}

/// Change an app (all of it; `confidential` cannot change).
#[utoipa::path(put, path = "/admin/apps/{client_id}", tag = "admin", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's client_id")),
    request_body = AppSpec,
    responses(
        (status = 200, description = "The app as changed", body = App),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
    ))]
async fn change_app(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(client_id): Path<String>,
    ApiJson(spec): ApiJson<AppSpec>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(
        services.apps().update(&admin, &client_id, &spec).await?,
    ))
}

/// Delete an app: what it was granted ends (refresh tokens at once).
#[utoipa::path(delete, path = "/admin/apps/{client_id}", tag = "admin", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn delete_app(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.apps().delete(&admin, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for a confidential app; the old one stops working at once.
#[utoipa::path(post, path = "/admin/apps/{client_id}/secret", tag = "admin", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = Secret),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`: a public app has no secret", body = ErrorBody),
    ))]
async fn new_secret(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(client_id): Path<String>,
) -> Result<Json<Secret>, ApiError> {
    let client_secret = services.apps().rotate_secret(&admin, &client_id).await?;
    Ok(Json(Secret { client_secret }))
}
