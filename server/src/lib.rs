//! The Latchkey server: configuration, router, JSON API and middleware
//! around the `app` crate's pages and the domain crate's services.

pub mod allocator;
pub mod api;
pub mod assets;
pub mod brand;
pub mod check;
pub mod client_addr;
pub mod config;
pub mod health;
pub mod kept_values;
pub mod locale;
pub mod mail;
pub mod mailed_links;
pub mod metrics;
pub mod oidc;
pub mod origin;
pub mod outage;
pub mod router;
pub mod security_headers;
pub mod server_fn_status;
pub mod session;
pub mod telemetry;
pub mod upstream;
pub mod well_known;
