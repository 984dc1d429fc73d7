//! The shared harness (`latchkey-testkit`), plus what only the server's
//! tests need: HTTP helpers, a TCP proxy that can be cut, and the real
//! binary as a child process.
#![allow(dead_code)]

pub mod http;
pub mod process;
pub mod proxy;

pub use latchkey_testkit::*;
use leptos::config::LeptosOptions;

pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("latchkey")
        .site_root(std::env::temp_dir().display().to_string())
        .build()
}
