//! `/.well-known/jwks.json`: the public keys that sign Latchkey's tokens,
//! for any service that verifies them.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use latchkey_core::Services;

use crate::api::error::ApiError;

/// How long a verifier may keep the key set: well under the day (at
/// least) for which a key is published before it signs.
pub const JWKS_MAX_AGE: &str = "public, max-age=3600";

pub async fn jwks(State(services): State<Services>) -> Result<impl IntoResponse, ApiError> {
    let keys = services.keys.jwks().await?;
    Ok((
        [
            (header::CACHE_CONTROL, JWKS_MAX_AGE),
            // Public keys: any page may read them.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(keys),
    ))
}
