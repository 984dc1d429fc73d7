//! The server's integration tests (the domain's own are in `core/tests/it`),
//! in one binary (one link, one process,
//! the harness runs them side by side). Three live apart: `audit` installs
//! a process-wide TRACE log subscriber, `restarts` stops the shared
//! PostgreSQL and Redis, which would break every test running beside it,
//! and `shutdown` floods a server with work, which would skew the timing
//! comparisons here.

#[macro_use]
extern crate latchkey_testkit;

mod common;

mod admin;
mod behind_proxy;
mod check_config;
mod http;
mod mail_templates;
mod outages;
mod upstream;
