use super::*;
use crate::report::TargetUsage;

fn row(id: &str, rps: f64, cpu: f64) -> ContenderResult {
    ContenderResult {
        id: id.to_owned(),
        title: id.to_owned(),
        report: RunReport {
            throughput_rps: rps,
            target: Some(TargetUsage {
                cpu_us_per_request: cpu,
                ..TargetUsage::default()
            }),
            ..RunReport::default()
        },
        ..ContenderResult::default()
    }
}

#[test]
fn ratios_and_targets_come_from_the_right_rows() {
    let mut report = CompareReport {
        contenders: vec![
            row("pingora", 10_000.0, 40.0),
            row("gw-header", 9_000.0, 44.0),
            row("gw-assertion", 8_500.0, 52.8),
            row("gw-jwt", 8_000.0, 52.0),
            row("gw-denied", 20_000.0, 20.0),
            row("gw-policy-l", 9_000.0, 44.0),
            row("gw-jwt-rs256", 8_000.0, 50.0),
            row("gw-jwt-rs256-nocache", 6_000.0, 75.0),
            row("gw-tls", 8_000.0, 55.0),
        ],
        ..CompareReport::default()
    };
    report.add_ratios();
    let header = &report.contenders[1];
    assert_eq!(header.id, "gw-header");
    let vs = header.vs_pingora.as_ref().unwrap();
    assert!((vs.cpu_per_request - 1.1).abs() < 1e-9);
    assert!((vs.throughput - 0.9).abs() < 1e-9);
    assert!(header.vs_nginx.is_none());
    report.check_targets();
    let met: Vec<Option<bool>> = report.targets.iter().map(|t| t.met).collect();
    // header 1.10 ≤ 1.15; JWT 1.30 > 1.25; assertion 1.20 ≤ 1.25; denied 2.22 ≥ 2;
    // L 1.00; no reload row; RS256 first-seen 1.5 ≤ 2; four reported ratios
    // (TLS ÷ header 1.25 measured, the others without rows); zero errors.
    assert_eq!(
        met,
        vec![
            Some(true),
            Some(false),
            Some(true),
            Some(true),
            Some(true),
            None,
            Some(true),
            None,
            None,
            None,
            None,
            Some(true)
        ]
    );
    let tls = report
        .targets
        .iter()
        .find(|t| t.target.contains("with TLS ÷ without"))
        .and_then(|t| t.measured)
        .unwrap();
    assert!((tls - 1.25).abs() < 1e-9);
    let text = report.render();
    assert!(text.contains("MISSED"));
    assert!(text.contains("not measured"));
    assert!(text.contains("reported"));
}

#[test]
fn spread_is_range_over_median() {
    assert_eq!(spread_pct(&[10.0]), 0.0);
    assert!((spread_pct(&[9.0, 10.0, 11.0]) - 20.0).abs() < 1e-9);
    assert!((spread_pct(&[10.0, 12.0]) - 2.0 / 11.0 * 100.0).abs() < 1e-9);
}
