//! Prometheus metrics at `/metrics`: requests by route and status with
//! their latency, log-ins by outcome (counted in the service layer), and,
//! read at scrape time, the argon2 pool's queue and the outbox depth.
//! They are served on a listener of their own (`METRICS_ADDR`, loopback by
//! default), never on the public one: they tell a stranger how many
//! log-ins fail and how busy the hash pool is.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_core::Services;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder, installed when the first router is built
/// (tests build many routers in one process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours just renders empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts and times each request under its route pattern (never the raw
/// path, which would carry ids and make unbounded label sets).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("latchkey_http_requests_total", &labels).increment(1);
    metrics::histogram!("latchkey_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The metrics listener's router.
pub fn router(services: Services) -> axum::Router {
    handle();
    axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .with_state(services)
}

async fn render(State(services): State<Services>) -> Response {
    let handle = handle();
    metrics::gauge!("latchkey_hash_jobs_in_flight").set(services.hasher.in_flight() as f64);
    if let Ok(depth) = services.outbox().outbox_depth().await {
        metrics::gauge!("latchkey_outbox_depth").set(depth as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
