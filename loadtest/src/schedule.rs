//! Open-loop scheduling: when each request is due, so latency is measured
//! from the time a request *should* have been sent. A stalled target then
//! shows up as latency instead of silently lowering the rate (coordinated
//! omission).

use std::time::Duration;

#[cfg(test)]
mod tests;

/// The send times of one worker among `workers` sharing a total `rate`.
///
/// Requests are spread evenly: request `k` of worker `w` is due at
/// `(k * workers + w) / rate` seconds after the start.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    worker: u64,
    workers: u64,
    rate: f64,
}

impl Schedule {
    /// `rate` in requests per second over all workers (must be > 0).
    pub fn new(worker: usize, workers: usize, rate: f64) -> Self {
        Schedule {
            worker: worker as u64,
            workers: workers.max(1) as u64,
            rate,
        }
    }

    /// Offset from the start at which request `k` of this worker is due.
    pub fn due(&self, k: u64) -> Duration {
        let slot = k * self.workers + self.worker;
        Duration::from_secs_f64(slot as f64 / self.rate)
    }
}

/// Latency counted from the scheduled send time (`due`) to completion; both
/// are offsets from the run's start. A request sent late because the worker
/// was still waiting on the previous one carries that wait.
pub fn latency_from_schedule(due: Duration, completed: Duration) -> Duration {
    completed.saturating_sub(due)
}
