//! `/api/v1/admin/*`: the admin console over JSON. Every route takes an
//! `AdminAuth` (401 anonymous, 403 for non-admins); every change is logged
//! with the acting admin.

use app::model::{ActivityPage, AdminUser, EventKind, UserChange, UserDetail, UserPage, UserQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::audit::ActivityFilter;
use latchkey_core::overview_model::Overview;
use latchkey_core::Services;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{AdminAuth, ApiJson, ApiQuery};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(user, change_user, delete_user))
        .routes(routes!(send_reset))
        .routes(routes!(revoke_sessions))
        .routes(routes!(reset_second_factors))
        .routes(routes!(revoke_session))
        .routes(routes!(events))
        .routes(routes!(overview))
}

/// Find users: search, filter and page through them, newest first.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(UserQuery), responses(
    (status = 200, description = "One page of users", body = UserPage),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
    (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
))]
async fn list_users(
    State(services): State<Services>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(services.admin().list_users(&query).await?))
}

/// One user, with their live sessions and latest activity.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserDetail),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn user(
    State(services): State<Services>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<UserDetail>, ApiError> {
    Ok(Json(services.admin().user_detail(&id).await?))
}

/// Change a user's role, disable or enable them, or mark their email verified.
///
/// Disabling ends every session at once. The last enabled administrator
/// cannot be demoted or disabled (`last_admin`).
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user as changed", body = AdminUser),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`last_admin`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
    ))]
async fn change_user(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<AdminUser>, ApiError> {
    Ok(Json(
        services.admin().change_user(&admin, &id, &change).await?,
    ))
}

/// Delete a user and their sessions (their activity log stays).
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`last_admin`", body = ErrorBody),
    ))]
async fn delete_user(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.admin().admin_delete_user(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mail the user a password-reset link.
#[utoipa::path(post, path = "/admin/users/{id}/password-reset", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 202, description = "The link is queued for sending"),
        (status = 403, description = "`account_disabled`: enable the user first", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn send_reset(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.admin().admin_send_reset(&admin, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Serialize, ToSchema)]
pub struct Ended {
    /// How many sessions ended.
    ended: u64,
}

/// End every session of the user (they must sign in again).
#[utoipa::path(delete, path = "/admin/users/{id}/sessions", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Sessions ended", body = Ended),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn revoke_sessions(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Ended>, ApiError> {
    let ended = services
        .admin()
        .admin_revoke_sessions(&admin, &id, None)
        .await?;
    Ok(Json(Ended { ended }))
}

/// Remove the user's authenticator app and recovery codes (a lost phone).
///
/// Their password alone signs in again; they are mailed, and it is logged.
#[utoipa::path(delete, path = "/admin/users/{id}/second-factors", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn reset_second_factors(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services
        .admin()
        .admin_reset_second_factors(&admin, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one session of the user.
#[utoipa::path(delete, path = "/admin/users/{id}/sessions/{session_id}", tag = "admin", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "User id"),
        ("session_id" = String, Path, description = "A session id from the user's detail"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn revoke_session(
    State(services): State<Services>,
    AdminAuth(admin): AdminAuth,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    services
        .admin()
        .admin_revoke_sessions(&admin, &id, Some(&session_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters for the activity log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this user's events.
    user_id: Option<String>,
    /// Accounts whose email or username contains this, or this exact IP.
    q: Option<String>,
    kind: Option<EventKind>,
    /// Only what administrators did.
    admin_only: Option<bool>,
    /// `next_before` of the previous page.
    before: Option<String>,
    /// 1–200; default 50.
    limit: Option<u32>,
}

/// The security activity log of every account, newest first.
#[utoipa::path(get, path = "/admin/events", tag = "admin", security(("bearer" = [])), params(EventQuery), responses(
    (status = 200, description = "One page of events", body = ActivityPage),
    (status = 403, description = "`forbidden`", body = ErrorBody),
))]
async fn events(
    State(services): State<Services>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<ActivityPage>, ApiError> {
    let filter = ActivityFilter {
        user_id: query.user_id,
        search: query.q,
        kind: query.kind,
        admin_only: query.admin_only.unwrap_or(false),
        before: query.before,
        limit: query.limit,
    };
    Ok(Json(services.admin().activity(&filter).await?))
}

/// What happened on each of the last 30 days (UTC, today last): sign-ups,
/// active users, log-ins, failed and throttled log-ins (with spikes
/// marked), codes and mails sent and failed, webhook deliveries.
#[utoipa::path(get, path = "/admin/overview", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, description = "Per-day counts, oldest first", body = Overview),
    (status = 403, description = "`forbidden`", body = ErrorBody),
))]
async fn overview(
    State(services): State<Services>,
    AdminAuth(_): AdminAuth,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(services.admin().overview().await?))
}
