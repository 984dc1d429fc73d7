//! The JSON API under `/api/v1`, for non-browser clients. Handlers are thin:
//! parse, call the same service as the server functions, render.

pub mod auth;
pub mod error;
pub mod extract;
pub mod me;
pub mod oauth;
pub mod password;

use app::ssr::Services;
use axum::Router;

pub fn router() -> Router<Services> {
    Router::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(password::router())
        .merge(oauth::router())
}
