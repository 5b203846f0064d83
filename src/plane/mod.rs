//! Speaking to a Plane cluster (the open-source engine behind the seed's
//! Jamsocket): reading what it says in the seed's terms, natively tested.
//!
//! - [`status`]: its status-stream entries as the seed's [`BackendState`](crate::BackendState)s;
//! - [`remote`]: a `ConnectResponse` from a cluster, as the urls a tab follows;
//! - [`verified`]: the `x-verified-*` headers its proxy gives a backend's sessions.

pub mod remote;
pub mod status;
pub mod verified;
