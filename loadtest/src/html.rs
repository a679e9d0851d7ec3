//! The HTML report of `compare --html` and `run --html`: one
//! self-contained page (inline SVG, no script, no external file) with the
//! latency percentile curve of every contender, CPU per request as bars,
//! and the text table beside them.

use std::fmt::Write as _;

use crate::compare::summary::CompareReport;
use crate::report::{CurvePoint, RunReport, render_run};

#[cfg(test)]
mod tests;

/// Distinct colours, one per contender (cycled past the end).
const PALETTE: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#5254a3",
];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text made safe inside HTML and SVG, attributes included.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One curve of the percentile plot.
#[derive(Clone, Copy, Debug)]
pub struct Curve<'a> {
    pub label: &'a str,
    pub points: &'a [CurvePoint],
}

/// The percentile axis: `log10(1 / (1 - p))`, so 90 %, 99 %, 99.9 % … are
/// evenly spaced (HdrHistogram's plot).
fn percentile_x(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-5);
    (1.0 / rest).log10()
}

const PLOT_W: f64 = 620.0;
const PLOT_H: f64 = 360.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 20.0;
const LEGEND_W: f64 = 300.0;

/// An SVG of latency (log scale) against percentile, one polyline per curve.
pub fn percentile_svg(curves: &[Curve<'_>]) -> String {
    let max_us = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.latency_us))
        .max()
        .unwrap_or(1)
        .max(1);
    let min_us = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.latency_us.max(1)))
        .min()
        .unwrap_or(1);
    let y_lo = (min_us as f64).log10().floor();
    let y_hi = ((max_us as f64).log10().ceil()).max(y_lo + 1.0);
    let x_hi = percentile_x(99.999);
    let x = |p: f64| LEFT + percentile_x(p) / x_hi * PLOT_W;
    let y = |us: u64| TOP + PLOT_H - ((us.max(1) as f64).log10() - y_lo) / (y_hi - y_lo) * PLOT_H;

    let width = LEFT + PLOT_W + 20.0 + LEGEND_W;
    let height = TOP + PLOT_H + 50.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="percentiles" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="#fff" stroke="#999"/>"##
    );
    // Vertical grid: the percentiles people quote.
    for (p, label) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
        (99.999, "99.999%"),
    ] {
        let gx = x(p);
        let _ = write!(
            svg,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + PLOT_H,
            TOP + PLOT_H + 16.0
        );
    }
    // Horizontal grid: 1, 2 and 5 of each power of ten.
    let mut decade = y_lo;
    while decade < y_hi {
        for m in [1.0, 2.0, 5.0] {
            let us = m * 10f64.powf(decade);
            let gy = TOP + PLOT_H - (us.log10() - y_lo) / (y_hi - y_lo) * PLOT_H;
            let stroke = if m == 1.0 { "#ccc" } else { "#eee" };
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + PLOT_W,
                LEFT - 6.0,
                gy + 4.0,
                duration_label(us)
            );
        }
        decade += 1.0;
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">latency (log scale)</text>"##,
        LEFT + PLOT_W / 2.0,
        TOP + PLOT_H + 38.0,
        TOP + PLOT_H / 2.0,
        TOP + PLOT_H / 2.0
    );
    for (i, c) in curves.iter().enumerate() {
        if c.points.is_empty() {
            continue;
        }
        let points: Vec<String> = c
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.percentile), y(p.latency_us)))
            .collect();
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline>"##,
            colour(i),
            points.join(" "),
            escape(c.label)
        );
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + PLOT_W + 20.0;
        let _ = write!(
            svg,
            r##"<rect x="{lx:.1}" y="{:.1}" width="14" height="4" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"##,
            ly - 5.0,
            colour(i),
            lx + 20.0,
            escape(c.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `1.5 µs`, `250 µs`, `2 ms`, `1.2 s`.
fn duration_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Horizontal bars, one per `(label, value)`, the value printed at the end.
pub fn bars_svg(rows: &[(&str, f64)], unit: &str) -> String {
    const LABEL_W: f64 = 300.0;
    const BAR_W: f64 = 520.0;
    const ROW_H: f64 = 24.0;
    let max = rows
        .iter()
        .map(|r| r.1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let width = LABEL_W + BAR_W + 90.0;
    let height = rows.len() as f64 * ROW_H + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="bars" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"##
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let top = 5.0 + i as f64 * ROW_H;
        let value = if value.is_finite() { *value } else { 0.0 };
        let w = if max > 0.0 { value / max * BAR_W } else { 0.0 };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="bar" x="{LABEL_W}" y="{top:.1}" width="{w:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}">{value:.1} {}</text>"##,
            LABEL_W - 8.0,
            top + 15.0,
            escape(label),
            ROW_H - 6.0,
            colour(i),
            LABEL_W + w + 6.0,
            top + 15.0,
            escape(unit)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn page(title: &str, subtitle: &str, sections: &[(&str, String)], table: &str) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:24px;color:#222}}h1{{font-size:20px}}h2{{font-size:16px;margin-top:28px}}\
         p.sub{{color:#555}}pre{{font-size:12px;background:#f6f6f6;padding:12px;overflow-x:auto}}</style></head><body>\
         <h1>{}</h1><p class=\"sub\">{}</p>",
        escape(title),
        escape(title),
        escape(subtitle)
    );
    for (heading, body) in sections {
        let _ = write!(html, "<h2>{}</h2>{body}", escape(heading));
    }
    let _ = writeln!(
        html,
        "<h2>Table</h2><pre>{}</pre></body></html>",
        escape(table)
    );
    html
}

/// The page for `compare --html`.
pub fn compare_page(report: &CompareReport) -> String {
    let curves: Vec<Curve<'_>> = report
        .contenders
        .iter()
        .map(|c| Curve {
            label: &c.title,
            points: &c.report.latency.curve,
        })
        .collect();
    let cpu: Vec<(&str, f64)> = report
        .contenders
        .iter()
        .filter_map(|c| {
            Some((
                c.title.as_str(),
                c.report.target.as_ref()?.cpu_us_per_request,
            ))
        })
        .collect();
    let throughput: Vec<(&str, f64)> = report
        .contenders
        .iter()
        .map(|c| (c.title.as_str(), c.report.throughput_rps))
        .collect();
    let s = &report.settings;
    let subtitle = format!(
        "{} rounds × {} s per contender, {} connections, {}; {} cores ({}), load {} → {}. Command: {}",
        s.rounds,
        s.duration_s,
        s.connections,
        s.rate_rps.map_or("closed loop".to_owned(), |r| format!(
            "open loop at {r} req/s"
        )),
        report.machine.nproc,
        report.machine.cpu_model,
        report.machine.load_before,
        report.machine.load_after,
        report.command
    );
    page(
        "reqflo-loadtest compare",
        &subtitle,
        &[
            ("Latency by percentile", percentile_svg(&curves)),
            ("CPU per request (target process)", bars_svg(&cpu, "µs")),
            ("Throughput", bars_svg(&throughput, "req/s")),
        ],
        &report.render(),
    )
}

/// The page for `run --html`.
pub fn run_page(report: &RunReport, command: &str) -> String {
    let curves = [Curve {
        label: &report.label,
        points: &report.latency.curve,
    }];
    let mut sections = vec![("Latency by percentile", percentile_svg(&curves))];
    if let Some(t) = &report.target {
        sections.push((
            "CPU per request (target process)",
            bars_svg(&[(report.label.as_str(), t.cpu_us_per_request)], "µs"),
        ));
    }
    page(
        "reqflo-loadtest run",
        &format!("Command: {command}"),
        &sections,
        &render_run(report),
    )
}

/// Writes `html` to `path`.
pub fn write(path: &std::path::Path, html: &str) -> Result<(), String> {
    std::fs::write(path, html).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}
