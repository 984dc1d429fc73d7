//! `/healthz`: the process answers. `/readyz`: it can serve, i.e. the
//! database and the ephemeral store (Redis, when configured) answer —
//! what a load balancer should route by.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::Services;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(services): State<Services>) -> (StatusCode, Json<Value>) {
    let limit = Duration::from_secs(2);
    let database = tokio::time::timeout(limit, services.db.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let store = tokio::time::timeout(limit, services.ephemeral.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = database && store;
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "database": word(database),
            "store": { "kind": services.ephemeral.kind(), "status": word(store) },
        })),
    )
}
