//! The backend side: the machine that hosts the app's code in a backend's
//! dedicated worker, and the API of backends written in Rust.

mod host;
pub mod mount;
pub mod rust;

pub use host::{BackendHost, BackendOutput};
pub use mount::{MOUNT_RETRY_BUDGET_MS, MOUNT_RETRY_FIRST_MS, MOUNT_RETRY_MAX_MS};
