//! The comparison's results: per-contender rows, ratios against the pingora
//! pass-through and nginx, and the issue-5 targets checked.

use serde::{Deserialize, Serialize};

use crate::report::{RunReport, latency_cells, render_table, target_cells};

#[cfg(test)]
mod tests;

/// One measured round of one contender.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub round: usize,
    pub requests: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    pub cpu_us_per_request: f64,
}

/// Ratios of a contender to a reference contender (`self / reference`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    pub cpu_per_request: f64,
    pub throughput: f64,
    pub p99: f64,
}

/// All rounds of one contender together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContenderResult {
    pub id: String,
    pub title: String,
    pub report: RunReport,
    pub rounds: Vec<Round>,
    /// (max − min) / median of the per-round CPU per request, in percent.
    pub cpu_spread_pct: f64,
    pub vs_pingora: Option<Ratios>,
    pub vs_nginx: Option<Ratios>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A contender that did not run, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: String,
    pub title: String,
    pub reason: String,
}

/// One target (or a ratio reported without one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    /// The measured ratio (or error count).
    pub measured: Option<f64>,
    pub met: Option<bool>,
    /// The same ratio within each round (the two rows were measured a few
    /// seconds apart), to show how much of it is noise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_round: Vec<f64>,
}

/// The machine the comparison ran on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub load_before: String,
    pub load_after: String,
}

/// Settings of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub duration_s: f64,
    pub rounds: usize,
    pub warmup_s: f64,
    pub connections: usize,
    pub rate_rps: Option<f64>,
    pub threads: usize,
}

/// Everything `compare` reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub command: String,
    pub machine: Machine,
    pub settings: Settings,
    pub contenders: Vec<ContenderResult>,
    pub skipped: Vec<Skipped>,
    pub targets: Vec<TargetCheck>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// `a / b` for CPU per request, throughput and p99.
pub fn ratios(a: &RunReport, b: &RunReport) -> Ratios {
    let cpu = |r: &RunReport| r.target.as_ref().map_or(f64::NAN, |t| t.cpu_us_per_request);
    Ratios {
        cpu_per_request: ratio(cpu(a), cpu(b)),
        throughput: ratio(a.throughput_rps, b.throughput_rps),
        p99: ratio(a.latency.p99_us as f64, b.latency.p99_us as f64),
    }
}

/// (max − min) / median in percent; 0 for fewer than two values.
pub fn spread_pct(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    ratio(v[v.len() - 1] - v[0], median) * 100.0
}

impl CompareReport {
    fn find(&self, id: &str) -> Option<&ContenderResult> {
        self.contenders.iter().find(|c| c.id == id)
    }

    /// Fills in the ratios against `pingora` and `nginx`.
    pub fn add_ratios(&mut self) {
        let pingora = self.find("pingora").map(|c| c.report.clone());
        let nginx = self.find("nginx").map(|c| c.report.clone());
        for c in &mut self.contenders {
            c.vs_pingora = pingora.as_ref().map(|p| ratios(&c.report, p));
            c.vs_nginx = nginx.as_ref().map(|n| ratios(&c.report, n));
        }
    }

    fn cpu(&self, id: &str) -> Option<f64> {
        self.find(id)?
            .report
            .target
            .as_ref()
            .map(|t| t.cpu_us_per_request)
    }

    fn rps(&self, id: &str) -> Option<f64> {
        Some(self.find(id)?.report.throughput_rps)
    }

    /// `a / b` of a per-round figure, round by round.
    fn per_round(&self, a: &str, b: &str, f: fn(&Round) -> f64) -> Vec<f64> {
        match (self.find(a), self.find(b)) {
            (Some(a), Some(b)) => a
                .rounds
                .iter()
                .zip(&b.rounds)
                .map(|(x, y)| ratio(f(x), f(y)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Checks the targets against whatever rows exist.
    pub fn check_targets(&mut self) {
        let cpu_ratio = |a: &str, b: &str| Some(ratio(self.cpu(a)?, self.cpu(b)?));
        let rps_ratio = |a: &str, b: &str| Some(ratio(self.rps(a)?, self.rps(b)?));
        let cpu_rounds = |a: &str, b: &str| self.per_round(a, b, |r| r.cpu_us_per_request);
        let at_most = |target: &str, (a, b): (&str, &str), limit: f64| {
            let measured = cpu_ratio(a, b);
            TargetCheck {
                target: target.to_owned(),
                measured,
                met: measured.map(|m| m <= limit),
                per_round: cpu_rounds(a, b),
            }
        };
        let errors: u64 = self.contenders.iter().map(|c| c.report.errors).sum();
        let mut targets = vec![
            at_most(
                "header identity: CPU/request ≤ 1.15× pingora pass-through",
                ("gw-header", "pingora"),
                1.15,
            ),
            at_most(
                "JWT cache warm: CPU/request ≤ 1.25× pingora pass-through",
                ("gw-jwt", "pingora"),
                1.25,
            ),
        ];
        targets.push(at_most(
            "signed assertion: CPU/request ≤ 1.25× without (header identity)",
            ("gw-assertion", "gw-header"),
            1.25,
        ));
        let denied = rps_ratio("gw-denied", "gw-header");
        targets.push(TargetCheck {
            target: "denied: throughput ≥ 2× allowed (header identity)".to_owned(),
            measured: denied,
            met: denied.map(|m| m >= 2.0),
            per_round: self.per_round("gw-denied", "gw-header", |r| r.throughput_rps),
        });
        targets.push(at_most(
            "L policy: CPU/request ≤ 1.05× small policy",
            ("gw-policy-l", "gw-header"),
            1.05,
        ));
        targets.push(at_most(
            "reload every 100 ms: CPU/request ≤ 1.05× no reloads",
            ("gw-reload", "gw-header"),
            1.05,
        ));
        targets.push(at_most(
            "first-seen RS256 token: CPU/request ≤ 2× a cached one",
            ("gw-jwt-rs256-nocache", "gw-jwt-rs256"),
            2.0,
        ));
        let report = |target: &str, (a, b): (&str, &str)| TargetCheck {
            target: target.to_owned(),
            measured: cpu_ratio(a, b),
            met: None,
            per_round: cpu_rounds(a, b),
        };
        targets.push(report(
            "TLS listener: gateway CPU/request ÷ nginx with TLS",
            ("gw-tls", "nginx-tls"),
        ));
        targets.push(report(
            "TLS listener: gateway with TLS ÷ without (header identity)",
            ("gw-tls", "gw-header"),
        ));
        targets.push(report(
            "three-address pool: CPU/request ÷ one address",
            ("gw-pool", "gw-header"),
        ));
        targets.push(report(
            "three-address pool: gateway CPU/request ÷ nginx",
            ("gw-pool", "nginx"),
        ));
        targets.push(TargetCheck {
            target: "zero errors in every row".to_owned(),
            measured: Some(errors as f64),
            met: Some(errors == 0),
            per_round: Vec::new(),
        });
        self.targets = targets;
    }

    /// The comparison table, the ratios, the targets and the skipped rows.
    pub fn render(&self) -> String {
        let header = [
            "contender",
            "req/s",
            "errors",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "p99.9 µs",
            "max µs",
            "cpu µs/req",
            "±cpu %",
            "RSS MiB",
            "cpu ×pingora",
            "cpu ×nginx",
            "req/s ×pingora",
            "req/s ×nginx",
        ];
        let x = |r: Option<&Ratios>, f: fn(&Ratios) -> f64| {
            r.map_or("-".to_owned(), |r| format!("{:.2}", f(r)))
        };
        let rows: Vec<Vec<String>> = self
            .contenders
            .iter()
            .map(|c| {
                let r = &c.report;
                let (cpu, rss) = target_cells(r.target.as_ref());
                let mut row = vec![
                    c.title.clone(),
                    format!("{:.0}", r.throughput_rps),
                    r.errors.to_string(),
                ];
                row.extend(latency_cells(&r.latency));
                row.extend([
                    cpu,
                    format!("{:.0}", c.cpu_spread_pct),
                    rss,
                    x(c.vs_pingora.as_ref(), |r| r.cpu_per_request),
                    x(c.vs_nginx.as_ref(), |r| r.cpu_per_request),
                    x(c.vs_pingora.as_ref(), |r| r.throughput),
                    x(c.vs_nginx.as_ref(), |r| r.throughput),
                ]);
                row
            })
            .collect();
        let mut out = render_table(&header, &rows);
        for s in &self.skipped {
            out.push_str(&format!("skipped: {} — {}\n", s.title, s.reason));
        }
        for c in &self.contenders {
            for note in &c.notes {
                out.push_str(&format!("note: {} — {note}\n", c.title));
            }
        }
        out.push_str("\ntargets (and reported ratios):\n");
        for t in &self.targets {
            let verdict = match (t.met, t.measured) {
                (Some(true), _) => "met",
                (Some(false), _) => "MISSED",
                (None, Some(_)) => "reported",
                (None, None) => "not measured",
            };
            let measured = t.measured.map_or("-".to_owned(), |m| format!("{m:.2}"));
            let rounds = if t.per_round.is_empty() {
                String::new()
            } else {
                let r: Vec<String> = t.per_round.iter().map(|x| format!("{x:.2}")).collect();
                format!("  (per round: {})", r.join(" "))
            };
            out.push_str(&format!(
                "  {verdict:<12} {measured:>8}  {}{rounds}\n",
                t.target
            ));
        }
        out
    }
}
