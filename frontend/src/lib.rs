//! The WASM entry point: wakes the `#[island]` components of `app` in the
//! server-rendered HTML. Nothing else of the app runs in the browser.

// Links the app crate, whose islands are the module's exports.
#[allow(unused_imports)]
use app::*;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
