//! TypeScript declarations added to the package's `.d.ts`: the seed's types,
//! word for word, and the types of this crate's JavaScript API.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const SEED_TYPES: &str = include_str!("types/seed.d.ts");

#[wasm_bindgen(typescript_custom_section)]
const API_TYPES: &str = include_str!("types/api.d.ts");

#[cfg(feature = "tab")]
#[wasm_bindgen(typescript_custom_section)]
const TAB_API_TYPES: &str = include_str!("types/tab.d.ts");

#[cfg(feature = "backend")]
#[wasm_bindgen(typescript_custom_section)]
const BACKEND_API_TYPES: &str = include_str!("types/backend.d.ts");

#[wasm_bindgen(typescript_custom_section)]
const ERROR_CODES: &str = crate::model::code::ErrorCode::TYPESCRIPT;
