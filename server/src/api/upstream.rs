//! Other identity providers over the API: which ones this deployment
//! offers, and the accounts at them linked to the signed-in user's. The
//! sign-in itself is a browser's round trip through the provider
//! (`POST /login/with/{id}`, outside the API).

use app::model::{LinkedIdentity, UpstreamInfo, UpstreamToken};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::Services;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(providers))
        .routes(routes!(linked))
        .routes(routes!(remove))
        .routes(routes!(token))
}

#[derive(Deserialize, ToSchema)]
pub struct RemoveIdentity {
    /// The current password (an account without one: empty, within 10
    /// minutes of signing in).
    #[serde(default)]
    password: String,
}

/// The other identity providers people may sign in with here. A browser
/// signs in with one by posting a form to `/login/with/{id}` (the site's,
/// not the API's).
#[utoipa::path(get, path = "/auth/providers", tag = "auth", responses(
    (status = 200, description = "The enabled providers, in the order their buttons show", body = Vec<UpstreamInfo>),
))]
async fn providers(State(services): State<Services>) -> Json<Vec<UpstreamInfo>> {
    Json(services.upstream().providers())
}

/// The accounts at other providers linked to the signed-in user's.
#[utoipa::path(get, path = "/me/identities", tag = "me", security(("bearer" = [])), responses(
    (status = 200, description = "Linked accounts, oldest first", body = Vec<LinkedIdentity>),
))]
async fn linked(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<Json<Vec<LinkedIdentity>>, ApiError> {
    Ok(Json(services.upstream().identities(&auth.user.id).await?))
}

/// Remove the linked account at a provider (needs the password, as
/// removing a passkey does). Refused when it is the only way to sign in:
/// no password, no passkey and no other linked account.
#[utoipa::path(post, path = "/me/identities/{provider}/remove", tag = "me", security(("bearer" = [])),
    request_body = RemoveIdentity,
    params(("provider" = String, Path, description = "The provider's id (`google`, `kakao`, …)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_credentials`: wrong password", body = ErrorBody),
        (status = 403, description = "`reauth_required`", body = ErrorBody),
        (status = 404, description = "`not_found` (`no_such_identity`): none linked at that provider", body = ErrorBody),
        (status = 409, description = "`conflict` (`upstream_last_way`): it is the only way to sign in", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many password checks", body = ErrorBody),
    ))]
async fn remove(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Path(provider): Path<String>,
    ApiJson(body): ApiJson<RemoveIdentity>,
) -> Result<StatusCode, ApiError> {
    services
        .upstream()
        .unlink(&auth, &provider, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The access token the provider gave at the signed-in user's last
/// sign-in through it, for calling that provider's API for them. Only
/// when the deployment keeps them (`UPSTREAM_KEEP_TOKENS`; off by default:
/// nothing of the provider's is kept).
#[utoipa::path(get, path = "/me/identities/{provider}/token", tag = "me", security(("bearer" = [])),
    params(("provider" = String, Path, description = "The provider's id (`github`, `naver`, …)")),
    responses(
        (status = 200, description = "The kept token; it may have expired at the provider", body = UpstreamToken),
        (status = 404, description = "`not_found`: none linked at that provider (`no_such_identity`), or no token kept (`upstream_token_not_kept`)", body = ErrorBody),
    ))]
async fn token(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Path(provider): Path<String>,
) -> Result<Json<UpstreamToken>, ApiError> {
    let kept = services
        .upstream()
        .kept_token(&auth.user.id, &provider)
        .await?;
    Ok(Json(kept))
}
