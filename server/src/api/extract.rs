//! Extractors: a handler that needs a user takes `AuthUser`; JSON bodies go
//! through `ApiJson` so malformed input gets the API's error shape.

use axum::extract::{FromRequest, FromRequestParts, Query};
use axum::http::request::Parts;
use latchkey_core::{Auth, ClientInfo};
use serde::de::DeserializeOwned;

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
            .ok_or_else(|| ApiError::from(latchkey_core::Error::unauthorized()))
    }
}

/// An administrator: 401 for anonymous requests, 403 for other users.
pub struct AdminAuth(pub Auth);

impl<S: Send + Sync> FromRequestParts<S> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AuthUser(auth) = AuthUser::from_request_parts(parts, state).await?;
        latchkey_core::admin::require_admin(&auth)?;
        Ok(AdminAuth(auth))
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

/// Query strings, with malformed ones answered in the API's error shape. An
/// encoded NUL is malformed here: PostgreSQL cannot store or compare it, so
/// letting it through would turn a bad query string into a database error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::bad_request(
                "Failed to deserialize query string: NUL characters are not allowed",
            ));
        }
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}
