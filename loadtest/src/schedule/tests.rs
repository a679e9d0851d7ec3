use super::*;

#[test]
fn two_workers_interleave_at_the_total_rate() {
    let a = Schedule::new(0, 2, 1000.0);
    let b = Schedule::new(1, 2, 1000.0);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let got: Vec<f64> = (0..3).flat_map(|k| [ms(a.due(k)), ms(b.due(k))]).collect();
    for (g, want) in got.iter().zip([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]) {
        assert!((g - want).abs() < 1e-9, "{got:?}");
    }
}

#[test]
fn schedule_total_matches_rate_over_a_second() {
    let workers = 7;
    let rate = 700.0;
    let count: usize = (0..workers)
        .map(|w| {
            let s = Schedule::new(w, workers, rate);
            (0..)
                .take_while(|&k| s.due(k) < Duration::from_secs(1))
                .count()
        })
        .sum();
    assert_eq!(count, 700);
}

#[test]
fn a_stall_is_charged_to_the_requests_that_waited() {
    // Due at 10 ms, but the previous response only came back at 15 ms, so
    // it was sent at 15 ms and completed at 16 ms: 6 ms, not 1 ms.
    let due = Duration::from_millis(10);
    let completed = Duration::from_millis(16);
    assert_eq!(
        latency_from_schedule(due, completed),
        Duration::from_millis(6)
    );
    // Completion before the due time cannot happen, but never underflows.
    assert_eq!(latency_from_schedule(completed, due), Duration::ZERO);
}
