//! The JSON API under `/api/v1`, for non-browser clients. Handlers are thin:
//! parse, call the same service as the server functions, render. Each one
//! is registered with its OpenAPI description, so the document served at
//! `/api/v1/openapi.json` lists exactly the routes that exist.

pub mod admin;
pub mod apps;
pub mod auth;
pub mod docs;
pub mod error;
pub mod extract;
pub mod me;
pub mod oauth;
pub mod passkeys;
pub mod password;
pub mod second_factor;
pub mod upstream;
pub mod webhooks;

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use latchkey_core::Services;
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
        (name = "admin", description = "The admin console: users, roles, sessions and the activity log (administrators only)"),
        (name = "webhooks", description = "Endpoints that receive account events (administrators only). \
            Each event is POSTed as JSON (`WebhookPayload`, payload version 1) with Standard Webhooks headers: \
            `webhook-id` (`msg_` and the event's id, the same on every attempt), `webhook-timestamp` (Unix seconds \
            of the attempt) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under \
            the endpoint's secret; two during a secret's overlap). Verify with any Standard Webhooks library, answer \
            2xx within 10 s; anything else is retried with backoff for 24 hours. An account's events reach an \
            endpoint in order.")
    ),
    components(schemas(
        latchkey_core::webhook_model::WebhookPayload,
        latchkey_core::webhook_model::WebhookData,
        latchkey_core::webhook_model::WebhookUser,
        latchkey_core::webhook_model::WebhookEvent,
    ))
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

/// Adds the answers any operation can give, so clients (and fuzzers) see
/// every status the API really sends: malformed input, a store that is down,
/// and for secured operations a missing or dead token. Run on the finished
/// document: the routes are merged in after `ApiDoc` is built.
fn document_common_errors(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::Operation;
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    let add = |op: &mut Operation, status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error(description).into());
    };
    for (path, item) in document.paths.paths.iter_mut() {
        let admin = path.starts_with("/admin");
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in operations.into_iter().flatten() {
            add(
                op,
                "400",
                "`bad_request`: a malformed, mistyped or wrongly encoded body, query or path",
            );
            add(
                op,
                "503",
                "`unavailable`: the database or Redis is briefly unreachable",
            );
            if op.request_body.is_some() {
                add(op, "413", "`payload_too_large`: over 64 KiB");
                add(
                    op,
                    "422",
                    "`invalid_input`: a field breaks its rules, with `field`",
                );
            }
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add(op, "401", "`unauthorized`: no valid access token");
            }
            if admin {
                add(
                    op,
                    "403",
                    "`forbidden`: not an administrator; or `reauth_required` (reason \
                     `step_up_required`): an administrator with an authenticator app \
                     who has not proved it in 10 minutes (`me/second-factors/step-up`)",
                );
            }
        }
    }
}

/// The API's routes and its OpenAPI document, built together.
pub fn router() -> Router<Services> {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(oauth::router())
        .merge(me::router())
        .merge(password::router())
        .merge(admin::router())
        .merge(apps::router())
        .merge(second_factor::router())
        .merge(passkeys::router())
        .merge(upstream::router())
        .merge(webhooks::router())
        .split_for_parts();
    document_common_errors(&mut document);
    // The provider's endpoints sit at the site's root.
    let mut provider = crate::oidc::ProviderDoc::openapi();
    for item in provider.paths.paths.values_mut() {
        item.servers = Some(vec![utoipa::openapi::Server::new("/")]);
    }
    document.merge(provider);
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
