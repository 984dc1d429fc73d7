//! Builds the whole application router; production and tests use this one
//! function.

use std::sync::Arc;

use app::{shell, App};
use latchkey_core::Services;
use leptos::config::LeptosOptions;
use leptos::prelude::IntoView;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::routing::get;
use axum::{middleware, Extension, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower::util::option_layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api;
use crate::client_addr::TrustedProxies;

/// Requests larger than this are refused with 413 before any handler runs.
const BODY_LIMIT: usize = 64 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the deployment meets the network and its visitors: its public URL,
/// the origins whose pages may call the JSON API, the proxies in front of
/// it, and the product its pages speak for.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    pub public_url: String,
    /// Origins whose pages may call the JSON API with Bearer tokens (never
    /// with the session cookies).
    pub cors_origins: Vec<String>,
    pub trusted_proxies: TrustedProxies,
    pub brand: crate::brand::Branding,
}

impl Edge {
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.to_owned(),
            ..Self::default()
        }
    }
}

pub fn build(services: Services, leptos_options: LeptosOptions, public_url: &str) -> Router {
    build_with(services, leptos_options, Edge::new(public_url))
}

pub fn build_with(services: Services, leptos_options: LeptosOptions, edge: Edge) -> Router {
    let Edge {
        public_url,
        cors_origins,
        trusted_proxies,
        brand,
    } = edge;
    let (brand, brand_files) = brand.serve();
    let public_url = public_url.as_str();
    let cors_origins = cors_origins.as_slice();
    let routes = generate_route_list(App);
    let context = {
        let services = services.clone();
        move || provide_context(services.clone())
    };
    let assets = crate::assets::router(&leptos_options);
    let pages = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, context, {
            let options = leptos_options.clone();
            move || page(options.clone())
        })
        .route_layer(middleware::from_fn(
            crate::server_fn_status::status_from_error,
        ))
        .route_layer(middleware::from_fn_with_state(
            services.clone(),
            crate::kept_values::carry,
        ))
        .fallback(leptos_axum::file_and_error_handler(page))
        // A page names this build's assets and carries a fresh nonce: the
        // browser asks again every time (signed-in ones get `no-store`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .with_state(leptos_options)
        // What the pages show of the product (`app::brand::current`); the
        // API never needs it.
        .layer(Extension(Arc::new(brand)));

    crate::metrics::handle();
    let https = public_url.starts_with("https://");
    let origins = Arc::new(crate::origin::Origins {
        public: origin_of(public_url),
        cors: cors_origins.to_vec(),
    });
    let router = Router::new()
        .nest(
            "/api/v1",
            api::router()
                .with_state(services.clone())
                .layer(option_layer(cors(cors_origins))),
        )
        .route("/healthz", get(crate::health::healthz))
        .route(
            "/.well-known/jwks.json",
            get(crate::well_known::jwks).with_state(services.clone()),
        )
        .route(
            "/readyz",
            get(crate::health::readyz).with_state(services.clone()),
        )
        .nest_service("/pkg", assets)
        .merge(brand_files)
        .merge(crate::oidc::router(services.clone()))
        .merge(crate::upstream::router(services.clone()))
        .merge(pages)
        .layer(middleware::from_fn(crate::metrics::track))
        // Inside the session layer: it resumes for a signed-in browser.
        .layer(middleware::from_fn_with_state(
            services.clone(),
            crate::oidc::resume_after_sign_in,
        ))
        // Inside the session layer: the landing must know who is signed in.
        .layer(middleware::from_fn_with_state(
            services.clone(),
            crate::mailed_links::move_token_to_cookie,
        ))
        .layer(middleware::from_fn_with_state(
            services,
            crate::session::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            origins,
            crate::origin::check,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(trusted_proxies),
            crate::client_addr::resolve,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // A stuck request (a hung database call) ends with 408, not never.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                // The path only: queries can carry tokens (reset links).
                tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
            }),
        )
        // Outermost: every log line of a request carries its id, and so does
        // the response (one from a proxy in front is kept).
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::map_request(plausible_request_id));
    crate::security_headers::apply(router, https)
}

/// Keeps an incoming `x-request-id` only if it looks like one (a proxy's
/// id: up to 64 of `[A-Za-z0-9._-]`); anything else a client sent is
/// dropped, and a fresh id is made, so no visitor's text reaches the logs
/// through it.
async fn plausible_request_id(mut req: axum::extract::Request) -> axum::extract::Request {
    let plausible = |v: &axum::http::HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    };
    if req
        .headers()
        .get("x-request-id")
        .is_some_and(|v| !plausible(v))
    {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// CORS for the API: no layer at all unless origins are configured (a
/// route's layers are cloned per request, and that layer owns vectors).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    if origins.is_empty() {
        return None;
    }
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    Some(cors)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url[..after_scheme + i].to_owned(),
        None => url.to_owned(),
    }
}

/// A rendered page: the app's document, with the CSP for its nonce.
fn page(options: LeptosOptions) -> impl IntoView {
    crate::security_headers::page_csp();
    shell(options)
}
