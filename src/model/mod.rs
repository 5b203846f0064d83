//! The vocabulary every role shares: ids, time, a backend's statuses and
//! lifecycle, the seed's connect types, the Web Lock names, and the codes of
//! every refusal.

pub(crate) mod bounds;
pub(crate) mod code;
pub(crate) mod connect;
pub(crate) mod ids;
pub(crate) mod lifecycle;
pub(crate) mod locks;
pub(crate) mod map;
pub(crate) mod status;
pub(crate) mod time;
pub(crate) mod timers;
pub(crate) mod value;
