//! `/api/v1/me`: the signed-in user, their email and their sessions.

use app::model::{ActivityPage, SessionInfo, User};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::Services;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, AuthUser, Client};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(send_email_code))
        .routes(routes!(verify_email))
        .routes(routes!(request_email_change))
        .routes(routes!(confirm_email_change))
        .routes(routes!(revert_email_change))
        .routes(routes!(sessions, end_other_sessions))
        .routes(routes!(end_session))
        .routes(routes!(activity))
        .routes(routes!(connected_apps))
        .routes(routes!(disconnect_app))
}

/// The signed-in user.
#[utoipa::path(get, path = "/me", tag = "me", security(("bearer" = [])), responses(
    (status = 200, description = "The user", body = User),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
))]
async fn me(AuthUser(auth): AuthUser) -> Json<User> {
    Json(auth.user)
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMe {
    /// 3–32 characters of `[a-z0-9_.-]`.
    username: String,
}

/// Change the username.
#[utoipa::path(patch, path = "/me", tag = "me", security(("bearer" = [])), request_body = UpdateMe, responses(
    (status = 200, description = "The updated user", body = User),
    (status = 409, description = "`username_taken`", body = ErrorBody),
    (status = 422, description = "`invalid_input`", body = ErrorBody),
))]
async fn update_me(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<UpdateMe>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        services
            .accounts()
            .update_username(&auth, &body.username)
            .await?,
    ))
}

/// Mail a new verification code to the user's address.
#[utoipa::path(post, path = "/me/email/code", tag = "me", security(("bearer" = [])), responses(
    (status = 202, description = "Code sent"),
    (status = 422, description = "`invalid_input`: already verified", body = ErrorBody),
    (status = 429, description = "`rate_limited`: resend cooldown, with `Retry-After`", body = ErrorBody),
))]
async fn send_email_code(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
) -> Result<StatusCode, ApiError> {
    services
        .accounts()
        .send_verification(&auth, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyEmail {
    /// The 6-digit code, as a string (leading zeros matter).
    #[schema(example = "042917")]
    code: String,
}

/// Confirm the email address with the mailed code.
#[utoipa::path(post, path = "/me/email/verify", tag = "me", security(("bearer" = [])), request_body = VerifyEmail, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 200, description = "Verified", body = User),
    (status = 410, description = "`code_expired`", body = ErrorBody),
    (status = 422, description = "`code_wrong` or `code_dead`", body = ErrorBody),
))]
async fn verify_email(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<VerifyEmail>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        services
            .accounts()
            .verify_email(&auth, &body.code, &client)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailChange {
    new_email: String,
    /// The current password. An account without one (it signs in by
    /// emailed code) leaves it out, and must have signed in within the
    /// last 10 minutes instead.
    #[serde(default)]
    password: String,
}

/// Start an email change: after a fresh proof of identity, mails a code to
/// the new address.
#[utoipa::path(post, path = "/me/email/change", tag = "me", security(("bearer" = [])), request_body = EmailChange, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 202, description = "Code sent to the new address; nothing changed yet"),
    (status = 401, description = "`invalid_credentials`: not the current password (`field: password`)", body = ErrorBody),
    (status = 403, description = "`reauth_required`: an account without a password signed in too long ago, \
        or (reason `step_up_required`) one with an authenticator app has not proved it in 10 minutes", body = ErrorBody),
    (status = 422, description = "`invalid_input`", body = ErrorBody),
))]
async fn request_email_change(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailChange>,
) -> Result<StatusCode, ApiError> {
    services
        .accounts()
        .request_email_change(&auth, &body.new_email, body.password, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
pub struct EmailChangeConfirm {
    new_email: String,
    code: String,
}

/// Finish an email change with the code mailed to the new address.
///
/// Every other session ends, outstanding reset links die, and the old
/// address is mailed a link that undoes the change (`POST email/revert`).
#[utoipa::path(post, path = "/me/email/change/confirm", tag = "me", security(("bearer" = [])), request_body = EmailChangeConfirm, responses(
    (status = 429, description = "`rate_limited`: too many tries, with `Retry-After`", body = ErrorBody),
    (status = 200, description = "The address changed (and is verified)", body = User),
    (status = 409, description = "`email_taken`", body = ErrorBody),
    (status = 422, description = "`code_wrong` or `code_dead`", body = ErrorBody),
))]
async fn confirm_email_change(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailChangeConfirm>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        services
            .accounts()
            .confirm_email_change(&auth, &body.new_email, &body.code, &client)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailRevert {
    /// The `token` parameter of the link mailed to the old address.
    token: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct EmailReverted {
    /// The address the account has again.
    email: String,
}

/// "This wasn't me": undo an email change with the link mailed to the old
/// address. No session needed.
///
/// The old address comes back (verified), every session ends, reset links
/// die and the password is cleared: whoever made the change knew it. The
/// owner signs in by code (`POST auth/code`) and may then reset the password.
#[utoipa::path(post, path = "/email/revert", tag = "me", request_body = EmailRevert, responses(
    (status = 200, description = "Undone", body = EmailReverted),
    (status = 400, description = "`link_invalid`", body = ErrorBody),
    (status = 409, description = "`email_taken`: the old address belongs to another account", body = ErrorBody),
    (status = 410, description = "`link_expired`: expired or already used", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn revert_email_change(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailRevert>,
) -> Result<Json<EmailReverted>, ApiError> {
    let reverted = services
        .accounts()
        .revert_email_change(&body.token, &client)
        .await?;
    Ok(Json(EmailReverted {
        email: reverted.email,
    }))
}

/// The user's live sessions: the caller's first, then the most recently used.
#[utoipa::path(get, path = "/me/sessions", tag = "me", security(("bearer" = [])), responses(
    (status = 200, description = "Sessions; `current` marks the caller's", body = [SessionInfo]),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
))]
async fn sessions(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(services.sessions().list_sessions(&auth).await?))
}

/// End every session but the caller's ("log out everywhere else").
#[utoipa::path(delete, path = "/me/sessions", tag = "me", security(("bearer" = [])), responses(
    (status = 204, description = "The other sessions ended"),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
))]
async fn end_other_sessions(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<StatusCode, ApiError> {
    services.sessions().end_other_sessions(&auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one of the user's sessions (its tokens stop working at once).
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from `GET /me/sessions`")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "`not_found`: no such live session of this user", body = ErrorBody),
    ))]
async fn end_session(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.sessions().end_session(&auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The apps the user let sign them in (Connected apps).
#[utoipa::path(get, path = "/me/apps", tag = "me", security(("bearer" = [])), responses(
    (status = 200, description = "The apps, by name", body = [app::model::ConnectedApp]),
))]
async fn connected_apps(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<Json<Vec<app::model::ConnectedApp>>, ApiError> {
    Ok(Json(services.oidc().connected(&auth).await?))
}

/// Take back what an app was given: its tokens stop (refresh at once,
/// access within minutes) and its next sign-in asks again.
#[utoipa::path(delete, path = "/me/apps/{client_id}", tag = "me", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "An app's client_id from `GET /me/apps`")),
    responses(
        (status = 204, description = "Taken back"),
        (status = 404, description = "`not_found`: no such app connected", body = ErrorBody),
    ))]
async fn disconnect_app(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.oidc().disconnect(&auth, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// `next_before` of the previous page.
    before: Option<String>,
}

/// The user's own security activity (sign-ins, failures, changes), newest first.
#[utoipa::path(get, path = "/me/activity", tag = "me", security(("bearer" = [])), params(ActivityQuery), responses(
    (status = 200, description = "Up to 50 events", body = ActivityPage),
    (status = 401, description = "`unauthorized`", body = ErrorBody),
))]
async fn activity(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> Result<Json<ActivityPage>, ApiError> {
    Ok(Json(
        services
            .accounts()
            .own_activity(&auth.user.id, query.before)
            .await?,
    ))
}
