//! The whole router, as production builds it, driven over HTTP in-process:
//! the JSON API, the server functions behind the forms, and SSR pages, one
//! file per concern.

mod api;
mod brand;
mod contract;
mod edge;
mod forms;
mod keys;
mod oidc;

use crate::common::{self, http::*};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::{leptos_options, unique_name, Backend};
use serde_json::{json, Value};

use common::PASSWORD;

async fn app(backend: Backend) -> Router {
    server::router::build(common::services(backend).await, leptos_options(), ORIGIN)
}

async fn api_signup(app: &Router) -> (String, Value) {
    let name = unique_name();
    let res = send(
        app,
        json_post(
            "/api/v1/auth/signup",
            json!({ "email": format!("{name}@example.com"), "username": name, "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    (name, body_json(res).await)
}

/// Server functions send the bare `AppError`, not the API's envelope.
fn assert_error_body(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
}

async fn app_default_cors() -> Router {
    app(Backend::Sqlite).await
}
