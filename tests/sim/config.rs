//! How the simulated browser behaves: latencies, jitter, losses, limits.

use tabworker::FleetLimits;

use super::{Loss, MS};

/// How the simulated browser behaves. All durations are in microseconds of
/// virtual time.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seeds every random choice of the run.
    pub seed: u64,
    /// Tab ↔ coordinator latency.
    pub coordinator_latency_us: u64,
    /// Tab ↔ worker latency, drawn per message from this range.
    pub worker_latency_us: (u64, u64),
    /// From a lock becoming free to the owner hearing of its grant.
    pub lock_latency_us: u64,
    /// From `SpawnBackend` to the worker's `listening` reaching its tab.
    pub spawn_latency_us: u64,
    /// Up to this much random extra latency on every message and grant:
    /// reorders across channels, never within one.
    pub jitter_us: u64,
    /// Probability of losing a tab ↔ coordinator message.
    pub drop_probability: f64,
    /// The message kinds that may be lost (`None`: every kind).
    pub droppable: Option<Vec<&'static str>>,
    /// Single losses: the first tab ↔ coordinator message matching each
    /// entry is lost (then the entry is spent).
    pub lose: Vec<Loss>,
    /// After a graceful close (`destroy`), the page is gone after up to this long.
    pub close_to_kill_us: u64,
    /// Send every message through `protocol::frame` + JSON + `decode_json`.
    pub round_trip_frames: bool,
    /// Record a human-readable trace of every input and output.
    pub trace: bool,
    /// The leader's limits on its keyed backends (startup, grace).
    pub fleet_limits: FleetLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            coordinator_latency_us: MS,
            worker_latency_us: (100, MS),
            lock_latency_us: 500,
            spawn_latency_us: 30 * MS,
            jitter_us: 0,
            drop_probability: 0.0,
            droppable: None,
            lose: Vec::new(),
            close_to_kill_us: 5 * MS,
            round_trip_frames: true,
            trace: false,
            fleet_limits: FleetLimits::default(),
        }
    }
}
