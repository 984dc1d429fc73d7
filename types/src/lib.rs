//! Latchkey's wire types: what the server sends the browser and API
//! clients, compiled into both the server and the WASM. No I/O, and no
//! logic beyond the few rules both sides must agree on (`paths`, `forms`).

pub mod error;
pub mod forms;
pub mod model;
pub mod overview;
pub mod paths;
pub mod webhooks;

pub use error::{ErrorCode, Reason};
