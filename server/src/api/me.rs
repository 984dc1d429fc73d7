//! `/api/v1/me`: the signed-in user.

use app::model::User;
use app::ssr::Services;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser};

pub fn router() -> Router<Services> {
    Router::new().route("/me", get(me).patch(update_me))
}

async fn me(AuthUser(auth): AuthUser) -> Json<User> {
    Json(auth.user)
}

#[derive(Deserialize)]
pub struct UpdateMe {
    username: String,
}

async fn update_me(
    State(services): State<Services>,
    AuthUser(auth): AuthUser,
    ApiJson(body): ApiJson<UpdateMe>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(services.update_username(&auth, &body.username).await?))
}
