//! Server-only glue between the server functions and the domain crate
//! (`latchkey_core`): the request a server function runs in and the cookies
//! it sets. The flows themselves live in the domain; see docs/DESIGN.md.

pub mod cookies;
pub mod kept;
pub mod once;
pub mod request;
pub mod sealed;
