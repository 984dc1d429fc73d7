//! The JSON API under `/api/v1`, for non-browser clients. Handlers are thin:
//! parse, call the same service as the server functions, render. Each one
//! is registered with its OpenAPI description, so the document served at
//! `/api/v1/openapi.json` lists exactly the routes that exist.

pub mod admin;
pub mod auth;
pub mod docs;
pub mod error;
pub mod extract;
pub mod me;
pub mod oauth;
pub mod password;

use app::ssr::Services;
use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey API",
        description = "Accounts, sessions and email codes. Authenticate with `Authorization: Bearer <access_token>` \
                       from `auth/login`, `auth/signup` or the OAuth2 token endpoint `auth/token`. \
                       Errors are `{ \"error\": { \"code\", \"message\" } }`; clients match on `code`."
    ),
    servers((url = "/api/v1")),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign up, log in, tokens"),
        (name = "me", description = "The signed-in user, their email and sessions"),
        (name = "password", description = "Reset, change and strength"),
        (name = "admin", description = "The admin console: users, roles, sessions and the activity log (administrators only)")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/api/v1/auth/token",
                Scopes::new(),
            ))])),
        );
    }
}

/// The API's routes and its OpenAPI document, built together.
pub fn router() -> Router<Services> {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(oauth::router())
        .merge(me::router())
        .merge(password::router())
        .merge(admin::router())
        .split_for_parts();
    let page = Html(docs::render(&document));
    let json = document.to_pretty_json().unwrap_or_default();
    router
        .route(
            "/openapi.json",
            get(move || {
                std::future::ready(([(header::CONTENT_TYPE, "application/json")], json.clone()))
            }),
        )
        .route("/docs", get(move || std::future::ready(page.clone())))
}
