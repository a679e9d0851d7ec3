//! Per-call latency percentiles, to go with criterion's mean and median.
//!
//! Each call is timed on its own with `Instant` (whose own cost, measured
//! here as the median of timing nothing, is reported and subtracted), the
//! samples sorted, and the percentiles read off.

use std::hint::black_box;
use std::time::Instant;

/// Nanoseconds per call.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub samples: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// The timer's own cost, already subtracted from the above.
    pub timer: f64,
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} mean={:.0}ns p50={:.0}ns p90={:.0}ns p99={:.0}ns p99.9={:.0}ns max={:.0}ns (timer {:.0}ns subtracted)",
            self.samples, self.mean, self.p50, self.p90, self.p99, self.p999, self.max, self.timer
        )
    }
}

fn timer_cost() -> f64 {
    let mut samples: Vec<u64> = (0..20_000)
        .map(|_| {
            let start = Instant::now();
            black_box(());
            start.elapsed().as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2] as f64
}

/// Calls `call(i)` for `i` in `0..calls`, each timed alone.
pub fn measure(calls: usize, mut call: impl FnMut(usize)) -> Percentiles {
    let timer = timer_cost();
    let mut samples: Vec<u64> = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        call(i);
        samples.push(start.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        (samples[i] as f64 - timer).max(0.0)
    };
    let mean = samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64 - timer;
    Percentiles {
        samples: samples.len(),
        mean: mean.max(0.0),
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
        timer,
    }
}
