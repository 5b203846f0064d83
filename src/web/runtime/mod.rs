//! The browser primitives every role's glue uses, each written once:
//! values to and from JavaScript, frames posted and received with their
//! ports, event listeners removed on drop, one timer armed to the core's
//! deadline, the clock, and Web Locks.

#[cfg(any(feature = "tab", feature = "backend"))]
pub(crate) mod callbacks;
#[cfg(any(feature = "tab", feature = "backend"))]
pub(crate) mod channel;
pub(crate) mod clock;
pub(crate) mod codec;
pub(crate) mod frames;
pub(crate) mod js;
pub(crate) mod listener;
pub(crate) mod lock_table;
pub mod locks;
pub mod timer;
