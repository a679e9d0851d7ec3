use super::*;
use crate::compare::summary::{CompareReport, ContenderResult};
use crate::report::{Latency, TargetUsage, new_histogram};

fn contender(id: &str, title: &str, base_us: u64, cpu: f64) -> ContenderResult {
    let mut h = new_histogram();
    for i in 0..10_000u64 {
        h.record(base_us + i % 100 + if i % 1000 == 0 { 50 * base_us } else { 0 })
            .unwrap();
    }
    ContenderResult {
        id: id.to_owned(),
        title: title.to_owned(),
        report: RunReport {
            label: title.to_owned(),
            requests: 10_000,
            throughput_rps: 1e6 / base_us as f64,
            latency: Latency::of(&h),
            target: Some(TargetUsage {
                cpu_us_per_request: cpu,
                ..TargetUsage::default()
            }),
            ..RunReport::default()
        },
        ..ContenderResult::default()
    }
}

fn report() -> CompareReport {
    CompareReport {
        command: "reqflo-loadtest compare --html r.html".to_owned(),
        contenders: vec![
            contender("pingora", "1 pingora pass-through", 700, 40.0),
            contender("nginx", "2 nginx <proxy_pass> & keepalive", 400, 20.0),
            contender("gw-header", "3 gateway allowed, header identity", 900, 55.0),
        ],
        ..CompareReport::default()
    }
}

#[test]
fn the_compare_page_draws_a_curve_and_bars_per_contender() {
    let html = compare_page(&report());
    assert!(html.starts_with("<!DOCTYPE html>"));
    // One percentile curve per contender, each with every sampled point.
    assert_eq!(html.matches("<polyline").count(), 3, "{html}");
    let first = html.split("points=\"").nth(1).unwrap();
    let points = first.split('"').next().unwrap();
    assert_eq!(
        points.split(' ').count(),
        crate::report::CURVE_PERCENTILES.len()
    );
    // CPU per request and throughput bars: three each.
    assert_eq!(html.matches("class=\"bar\"").count(), 6);
    assert!(html.contains(">55.0 µs</text>"), "{html}");
    // Titles are escaped, in the legend, the bars and the table alike.
    assert!(html.contains("2 nginx &lt;proxy_pass&gt; &amp; keepalive"));
    assert!(!html.contains("<proxy_pass>"));
    // Every coordinate is a number.
    for bad in ["NaN", "inf"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    // The text table is there too.
    assert!(html.contains("cpu µs/req"), "{html}");
}

#[test]
fn the_slower_contender_draws_higher() {
    let html = percentile_svg(&[
        Curve {
            label: "fast",
            points: &report().contenders[1].report.latency.curve,
        },
        Curve {
            label: "slow",
            points: &report().contenders[2].report.latency.curve,
        },
    ]);
    let ys = |n: usize| -> Vec<f64> {
        let points = html
            .split("points=\"")
            .nth(n)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        points
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    };
    let (fast, slow) = (ys(1), ys(2));
    // SVG's y grows downwards: a longer latency is a smaller y.
    assert!(
        fast.iter().zip(&slow).all(|(f, s)| s < f),
        "{fast:?} {slow:?}"
    );
    // A curve never goes down as the percentile rises.
    assert!(fast.windows(2).all(|w| w[1] <= w[0]), "{fast:?}");
}

#[test]
fn the_run_page_and_an_empty_report_render() {
    let r = &report().contenders[0].report;
    let html = run_page(r, "reqflo-loadtest run --html x.html");
    assert_eq!(html.matches("<polyline").count(), 1);
    assert_eq!(html.matches("class=\"bar\"").count(), 1);
    let empty = compare_page(&CompareReport::default());
    assert_eq!(empty.matches("<polyline").count(), 0);
    assert!(!empty.contains("NaN"));
}
