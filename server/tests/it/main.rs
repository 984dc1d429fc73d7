//! The server's integration tests, in one binary (one link, one process,
//! the harness runs them side by side). Two live apart: `audit` installs a
//! process-wide TRACE log subscriber, and `restarts` stops the shared
//! PostgreSQL and Redis, which would break every test running beside it.

#[macro_use]
mod common;

mod accounts;
mod admin;
mod behind_proxy;
mod codes;
mod http;
mod outages;
mod passwords;
mod shutdown;
