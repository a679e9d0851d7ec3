//! Which sizes a bench run covers: `REQFLO_BENCH_SIZES=S,M` (default all).

use reqflo_policy::synthetic::Size;

pub fn sizes() -> Vec<Size> {
    match std::env::var("REQFLO_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| Size::parse(s.trim()))
            .collect(),
        Err(_) => Size::ALL.to_vec(),
    }
}
