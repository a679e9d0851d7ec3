//! Run results: latency percentiles from an HDR histogram, counts by status,
//! target CPU and memory, and their rendering as a table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// Highest latency the histograms track: 60 s, in microseconds.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A latency histogram in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
        Ok(h) => h,
        // The bounds are constants that hdrhistogram accepts.
        Err(_) => Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits")),
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// The latency at each of [`CURVE_PERCENTILES`] (and the maximum), for
    /// the report's percentile plot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
}

/// One point of a latency percentile curve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub percentile: f64,
    pub latency_us: u64,
}

/// Where the percentile curve is sampled: dense in the tail, as
/// HdrHistogram's plots are.
pub const CURVE_PERCENTILES: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0, 96.0, 97.0, 97.5, 98.0, 98.5, 99.0,
    99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999,
];

impl Latency {
    /// Percentiles of a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
            curve: CURVE_PERCENTILES
                .iter()
                .map(|&p| CurvePoint {
                    percentile: p,
                    latency_us: h.value_at_quantile(p / 100.0),
                })
                .collect(),
        }
    }
}

/// What the target process used while the load ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetUsage {
    /// CPU time (user + system) of the target and its children, in seconds.
    pub cpu_seconds: f64,
    /// `cpu_seconds` divided by the requests completed, in microseconds.
    pub cpu_us_per_request: f64,
    /// Peak resident memory (`VmHWM`, summed over the process tree), KiB.
    pub peak_rss_kib: u64,
}

/// The outcome of one run (or the sum of a contender's rounds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub label: String,
    pub requests: u64,
    pub duration_s: f64,
    pub throughput_rps: f64,
    /// Responses with an expected status.
    pub ok: u64,
    /// Unexpected statuses plus transport errors.
    pub errors: u64,
    pub transport_errors: u64,
    /// Every status seen, with its count.
    pub statuses: BTreeMap<u16, u64>,
    /// Statuses that the template did not expect, with their count.
    pub errors_by_status: BTreeMap<u16, u64>,
    /// Requests per template name.
    pub per_template: BTreeMap<String, u64>,
    pub latency: Latency,
    /// `Some` when the target's process was known.
    pub target: Option<TargetUsage>,
    /// Open-loop rate asked for, if any.
    pub rate_rps: Option<f64>,
}

/// Renders rows as an aligned plain-text table.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut first = true;
        for (cell, w) in cells.zip(&widths) {
            if !first {
                out.push_str("  ");
            }
            if first {
                let _ = write!(out, "{cell:<w$}");
            } else {
                let _ = write!(out, "{cell:>w$}");
            }
            first = false;
        }
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// Column names shared by `run` and `compare`.
pub const COLUMNS: [&str; 11] = [
    "target",
    "requests",
    "req/s",
    "errors",
    "p50 µs",
    "p90 µs",
    "p99 µs",
    "p99.9 µs",
    "max µs",
    "cpu µs/req",
    "peak RSS MiB",
];

/// One table row for a report, in [`COLUMNS`] order.
pub fn row(r: &RunReport) -> Vec<String> {
    let (cpu, rss) = target_cells(r.target.as_ref());
    let mut row = vec![
        r.label.clone(),
        r.requests.to_string(),
        format!("{:.0}", r.throughput_rps),
        r.errors.to_string(),
    ];
    row.extend(latency_cells(&r.latency));
    row.extend([cpu, rss]);
    row
}

/// The p50, p90, p99, p99.9 and max cells of a table row, in µs.
pub fn latency_cells(latency: &Latency) -> [String; 5] {
    [
        latency.p50_us.to_string(),
        latency.p90_us.to_string(),
        latency.p99_us.to_string(),
        latency.p999_us.to_string(),
        latency.max_us.to_string(),
    ]
}

/// The CPU µs per request and peak RSS MiB cells, `-` when the target was not measured.
pub fn target_cells(target: Option<&TargetUsage>) -> (String, String) {
    match target {
        Some(t) => (
            format!("{:.1}", t.cpu_us_per_request),
            format!("{:.1}", t.peak_rss_kib as f64 / 1024.0),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    }
}

/// A one-run report as text: the table plus statuses.
pub fn render_run(r: &RunReport) -> String {
    let mut out = render_table(&COLUMNS, &[row(r)]);
    let statuses: Vec<String> = r
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let _ = writeln!(out, "statuses: {}", statuses.join(", "));
    if r.errors > 0 {
        let errs: Vec<String> = r
            .errors_by_status
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "errors: {} unexpected status ({}), {} transport",
            r.errors - r.transport_errors,
            errs.join(", "),
            r.transport_errors
        );
    }
    out
}
