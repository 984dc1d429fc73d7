//! Builds the whole application router; production and tests use this one
//! function.

use std::sync::Arc;

use app::ssr::Services;
use app::{shell, App};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{middleware, Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::api;

/// Requests larger than this are refused with 413 before any handler runs.
const BODY_LIMIT: usize = 64 * 1024;

pub fn build(services: Services, leptos_options: LeptosOptions, public_url: &str) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let services = services.clone();
        move || provide_context(services.clone())
    };
    let pages = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, context, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(middleware::from_fn(crate::fn_status::fix))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos_options);

    let public_origin: Arc<str> = origin_of(public_url).into();
    Router::new()
        .nest("/api/v1", api::router().with_state(services.clone()))
        .route(
            "/healthz",
            get(|| async { (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))) }),
        )
        .merge(pages)
        .layer(middleware::from_fn_with_state(
            services.clone(),
            crate::session::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            services,
            crate::reset_link::land,
        ))
        .layer(middleware::from_fn_with_state(
            public_origin,
            crate::origin::check,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The path only: queries can carry tokens (reset links).
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url[..after_scheme + i].to_owned(),
        None => url.to_owned(),
    }
}
