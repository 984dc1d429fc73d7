//! The Latchkey server: configuration, router, JSON API and middleware
//! around the `app` crate's pages and services.

pub mod api;
pub mod client_addr;
pub mod config;
pub mod fn_status;
pub mod health;
pub mod mailed_links;
pub mod metrics;
pub mod origin;
pub mod router;
pub mod security_headers;
pub mod session;
pub mod telemetry;
