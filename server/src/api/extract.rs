//! Extractors: a handler that needs a user takes `AuthUser`; JSON bodies go
//! through `ApiJson` so malformed input gets the API's error shape.

use app::error::AppError;
use app::ssr::{Auth, ClientInfo};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;

pub struct AuthUser(pub Auth);

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Auth>()
            .cloned()
            .map(AuthUser)
            .ok_or_else(|| ApiError(AppError::unauthorized()))
    }
}

pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ClientInfo>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);
