//! The WASM entry point: hydrates the server-rendered HTML.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The lazy variant: a page whose route lives in an on-demand chunk
    // (`app::on_demand`) hydrates once that chunk has arrived.
    leptos::mount::hydrate_lazy(app::App);
}
