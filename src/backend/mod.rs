//! The backend side: the machine that hosts the app's code in a backend's
//! dedicated worker.

mod host;

pub use host::{BackendHost, BackendOutput};
