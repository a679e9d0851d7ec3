use super::*;

#[test]
fn percentiles_of_known_data() {
    let mut h = new_histogram();
    for v in 1..=1000u64 {
        h.record(v).unwrap();
    }
    let l = Latency::of(&h);
    assert_eq!(l.p50_us, 500);
    assert_eq!(l.p90_us, 900);
    assert_eq!(l.p99_us, 990);
    assert_eq!(l.p999_us, 999);
    assert_eq!(l.max_us, 1000);
    assert!((l.mean_us - 500.5).abs() < 0.5);
}

#[test]
fn percentiles_keep_three_significant_digits_for_large_values() {
    let mut h = new_histogram();
    h.record_n(100, 990).unwrap();
    h.record_n(250_000, 10).unwrap();
    let l = Latency::of(&h);
    assert_eq!(l.p50_us, 100);
    assert_eq!(l.p99_us, 100);
    // 250 ms within 0.1 %.
    assert!(l.p999_us.abs_diff(250_000) <= 250, "{}", l.p999_us);
    assert!(l.max_us.abs_diff(250_000) <= 250, "{}", l.max_us);
}

#[test]
fn empty_histogram_reports_zeros() {
    assert_eq!(Latency::of(&new_histogram()), Latency::default());
}

#[test]
fn table_aligns_columns_and_json_round_trips() {
    let r = RunReport {
        label: "upstream".to_owned(),
        requests: 12,
        throughput_rps: 6.0,
        statuses: [(200, 12)].into(),
        target: Some(TargetUsage {
            cpu_seconds: 0.001,
            cpu_us_per_request: 83.3,
            peak_rss_kib: 2048,
        }),
        ..RunReport::default()
    };
    let text = render_run(&r);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0].chars().count(), lines[2].chars().count());
    assert!(lines[2].starts_with("upstream"));
    assert!(lines[2].contains("83.3") && lines[2].contains("2.0"));
    assert_eq!(lines[3], "statuses: 200: 12");
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<RunReport>(&json).unwrap(), r);
}
