// The worker entry of the Rust example backend: loading its module starts it
// (its `#[wasm_bindgen(start)]` calls `RustBackend::serve`). A tab names this
// script in `ClientOptions.backends` under a tag, like any backend's.
import init from './pkg/counter_backend.js';

await init();
