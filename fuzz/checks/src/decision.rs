//! The whole decision: a small world and requests read from the bytes
//! (`reqflo_policy::synthetic::bytes`), the compiled engine against the
//! reference evaluator, compared whole (allowed, `allowed_by`, every
//! reason's code, object, message, remedy and cause).

use reqflo_policy::synthetic::bytes;
use reqflo_policy::{Snapshot, decide, reference};

/// Bytes per request; the world takes the rest.
const REQUEST: usize = 8;

pub fn check(data: &[u8]) {
    // The first byte says how many requests end the input.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let requests = usize::from(n % 8) + 1;
    let split = rest.len().saturating_sub(requests * REQUEST);
    let (world, asked) = rest.split_at(split);
    let document = bytes::world(world);
    let snapshot = match Snapshot::compile(&document) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("a generated world is invalid: {errors}"),
    };
    let oracle = reference::World::new(&document);
    for choices in asked.chunks(REQUEST) {
        let owned = bytes::request(&document, choices);
        let request = owned.as_request();
        let engine = decide(&snapshot, &request);
        assert_eq!(engine, oracle.decide(&request), "{request:?}");
    }
}
