use super::*;

#[test]
fn stat_fields_are_counted_after_the_last_parenthesis() {
    let text = "4242 (nginx: worker (x) 1) S 4241 4241 4241 0 -1 4194624 712 0 0 0 \
                153 47 0 0 20 0 1 0 3419 12345 678 18446744073709551615 1 1 0 0 0 0 0";
    assert_eq!(
        parse_stat(text),
        Some(Stat {
            ppid: 4241,
            cpu_ticks: 200
        })
    );
    assert_eq!(parse_stat("12 (truncated) S 1"), None);
    assert_eq!(parse_stat("no parenthesis"), None);
}

#[test]
fn vm_hwm_is_read_in_kib() {
    let text = "Name:\tpingora\nVmPeak:\t  900000 kB\nVmHWM:\t   23456 kB\nVmRSS:\t 20000 kB\n";
    assert_eq!(parse_vm_hwm(text), Some(23456));
    assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
}

#[test]
fn tree_below_follows_grandchildren_only() {
    let parents = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 10)];
    let mut got = tree_below(10, &parents);
    got.sort_unstable();
    assert_eq!(got, vec![11, 12, 14]);
}

#[test]
fn own_process_can_be_sampled() {
    let s = Probe::new(std::process::id()).sample().unwrap();
    assert!(s.peak_rss_kib > 0);
    assert!(s.cpu_seconds >= 0.0);
}
