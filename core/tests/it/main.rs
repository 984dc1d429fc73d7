//! The domain's integration tests, in one binary: the flows through
//! `Services` on both deployments (SQLite with the in-process store, and
//! PostgreSQL with Redis), with mail read off a real SMTP server.

#[macro_use]
extern crate latchkey_testkit;

use latchkey_testkit as common;

mod accounts;
mod attempts;
mod codes;
mod db;
mod held_sessions;
mod oidc;
mod overview;
mod passkeys;
mod passwords;
mod second_factor;
mod signing_keys;
mod upgrades;
mod webhooks;
