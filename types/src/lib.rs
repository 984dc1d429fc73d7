//! Latchkey's wire types: what the server sends the browser and API
//! clients, compiled into both the server and the WASM. No logic, no I/O.

pub mod error;
pub mod model;
pub mod overview;
pub mod webhooks;

pub use error::{ErrorCode, Reason};
