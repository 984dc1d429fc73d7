//! Passkeys over the API: signing in with one (`auth/passkey…`) and the
//! account's own (`me/passkeys…`). The browser's half of each ceremony is
//! `navigator.credentials`: pass `options` to
//! `PublicKeyCredential.parse…OptionsFromJSON`, and send back the
//! credential's `toJSON()`.

use app::model::PasskeyInfo;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::Services;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TokenResponse;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser, Client};

pub fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(sign_in_options))
        .routes(routes!(sign_in))
        .routes(routes!(list, add))
        .routes(routes!(add_options))
        .routes(routes!(rename))
        .routes(routes!(remove))
}

/// One half of a ceremony: what the browser needs to make its answer.
#[derive(Serialize, ToSchema)]
pub struct Ceremony {
    /// Send this back with the answer (sign-in only; adding is tied to
    /// the session that asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    ceremony: Option<String>,
    /// WebAuthn options in their JSON form (`{"publicKey": …}`), good for
    /// 5 minutes.
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

impl Ceremony {
    fn new(ceremony: Option<String>, options: &str) -> Result<Self, ApiError> {
        let options = serde_json::from_str(options)
            .map_err(|e| latchkey_core::Error::internal().caused_by(e))?;
        Ok(Self { ceremony, options })
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PasskeySignIn {
    /// From `auth/passkey/options`.
    ceremony: String,
    /// The `PublicKeyCredential` the browser answered, as its `toJSON()`.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
pub struct AddOptions {
    /// What to call it ("Phone"); "Passkey" when empty. At most 64
    /// characters.
    #[serde(default)]
    name: String,
    /// The current password (an account without one: empty, within 10
    /// minutes of signing in).
    #[serde(default)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct AddPasskey {
    /// The `PublicKeyCredential` the browser made, as its `toJSON()`.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
pub struct Rename {
    /// At most 64 characters; "Passkey" when empty.
    name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct Remove {
    /// The current password (an account without one: empty, within 10
    /// minutes of signing in).
    #[serde(default)]
    password: String,
}

/// Start a sign-in with a passkey: no account is named, the device offers
/// the passkeys it keeps for this site.
#[utoipa::path(post, path = "/auth/passkey/options", tag = "auth", responses(
    (status = 200, description = "Options for `navigator.credentials.get`, and the ceremony to send back", body = Ceremony),
    (status = 409, description = "`conflict` (`passkeys_off`): PUBLIC_URL is an IP address", body = ErrorBody),
))]
async fn sign_in_options(State(services): State<Services>) -> Result<Json<Ceremony>, ApiError> {
    let started = services.passkeys().start_sign_in()?;
    Ok(Json(Ceremony::new(
        Some(started.ceremony),
        &started.options,
    )?))
}

/// Sign in with the passkey the browser answered with.
///
/// A passkey proves two factors: no `mfa_required` follows. A verified
/// answer spends the ceremony.
#[utoipa::path(post, path = "/auth/passkey", tag = "auth", request_body = PasskeySignIn, responses(
    (status = 200, description = "Signed in", body = TokenResponse),
    (status = 400, description = "`bad_request`: no answer (`passkey_cancelled`) or not a credential (`passkey_refused`)", body = ErrorBody),
    (status = 401, description = "`unauthorized`: the ceremony expired or was used (`passkey_expired`), the passkey is not registered (`passkey_unknown`) or did not verify (`passkey_refused`)", body = ErrorBody),
    (status = 403, description = "`account_disabled`", body = ErrorBody),
    (status = 409, description = "`conflict` (`passkeys_off`)", body = ErrorBody),
))]
async fn sign_in(
    State(services): State<Services>,
    Client(client): Client,
    ApiJson(body): ApiJson<PasskeySignIn>,
) -> Result<Json<TokenResponse>, ApiError> {
    let (user, issued) = services
        .passkeys()
        .sign_in(&body.ceremony, &body.credential.to_string(), &client)
        .await?;
    Ok(Json(TokenResponse::new(issued, Some(user))))
}

/// The signed-in account's passkeys, oldest first.
#[utoipa::path(get, path = "/me/passkeys", tag = "me", security(("bearer" = [])), responses(
    (status = 200, description = "Its passkeys", body = [PasskeyInfo]),
))]
async fn list(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
) -> Result<Json<Vec<PasskeyInfo>>, ApiError> {
    Ok(Json(services.passkeys().list(&auth).await?))
}

/// Start adding a passkey (needs the password, and a fresh second factor
/// where the account has an authenticator app).
///
/// The ceremony belongs to this session; starting again replaces it.
#[utoipa::path(post, path = "/me/passkeys/options", tag = "me", security(("bearer" = [])), request_body = AddOptions, responses(
    (status = 201, description = "Options for `navigator.credentials.create`", body = Ceremony),
    (status = 401, description = "`invalid_credentials`: wrong password", body = ErrorBody),
    (status = 403, description = "`reauth_required`: no password and no sign-in within 10 minutes, or (`step_up_required`) no fresh second factor", body = ErrorBody),
    (status = 409, description = "`conflict`: 20 passkeys already (`too_many_passkeys`), or `passkeys_off`", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many password checks", body = ErrorBody),
))]
async fn add_options(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<AddOptions>,
) -> Result<(StatusCode, Json<Ceremony>), ApiError> {
    let pending = services
        .passkeys()
        .start_adding(&auth, &body.name, body.password)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Ceremony::new(None, &pending.options)?),
    ))
}

/// Finish adding a passkey with the credential the browser made.
///
/// The owner is mailed. Sessions already signed in stay signed in.
#[utoipa::path(post, path = "/me/passkeys", tag = "me", security(("bearer" = [])), request_body = AddPasskey, responses(
    (status = 201, description = "Added", body = PasskeyInfo),
    (status = 400, description = "`bad_request`: no answer (`passkey_cancelled`: the ceremony stays open) or not a credential", body = ErrorBody),
    (status = 401, description = "`unauthorized`: no ceremony open for this session (`passkey_expired`), or the credential did not verify", body = ErrorBody),
    (status = 409, description = "`conflict`: 20 passkeys already, or `passkeys_off`", body = ErrorBody),
))]
async fn add(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    ApiJson(body): ApiJson<AddPasskey>,
) -> Result<(StatusCode, Json<PasskeyInfo>), ApiError> {
    let added = services
        .passkeys()
        .finish_adding(&auth, &body.credential.to_string(), &client)
        .await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Rename one of the account's passkeys.
#[utoipa::path(patch, path = "/me/passkeys/{id}", tag = "me", security(("bearer" = [])), request_body = Rename,
    params(("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 204, description = "Renamed"),
        (status = 404, description = "`not_found`: not one of the account's passkeys", body = ErrorBody),
    ))]
async fn rename(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rename>,
) -> Result<StatusCode, ApiError> {
    services.passkeys().rename(&auth, &id, &body.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove one of the account's passkeys (needs the password, and a fresh
/// second factor where the account has an authenticator app).
///
/// The owner is mailed. The emailed sign-in code always remains, so no
/// passkey is the last way in.
#[utoipa::path(post, path = "/me/passkeys/{id}/remove", tag = "me", security(("bearer" = [])), request_body = Remove,
    params(("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_credentials`: wrong password", body = ErrorBody),
        (status = 403, description = "`reauth_required`", body = ErrorBody),
        (status = 404, description = "`not_found`: not one of the account's passkeys", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many password checks", body = ErrorBody),
    ))]
async fn remove(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    Client(client): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Remove>,
) -> Result<StatusCode, ApiError> {
    services
        .passkeys()
        .remove(&auth, &id, body.password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
