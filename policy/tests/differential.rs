//! Differential property test: the compiled engine and the reference evaluator
//! must return the same whole decision on every generated world and request.
//!
//! Worlds and requests come from `reqflo_policy::synthetic::bytes` (each
//! choice reads the next byte, 0 when the bytes run out), so shrinking a
//! failure shrinks the world toward the smallest one: fewer users, resources
//! and grants, and the first choices.

use proptest::prelude::*;
use reqflo_policy::synthetic::bytes;
use reqflo_policy::{Snapshot, reference};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference(
        world_bytes in prop::collection::vec(any::<u8>(), 0..400),
        requests in prop::collection::vec(prop::collection::vec(any::<u8>(), 8), 1..12),
    ) {
        let document = bytes::world(&world_bytes);
        let snapshot = Snapshot::compile(&document);
        prop_assert!(snapshot.is_ok(), "generated world is invalid: {:?}", snapshot.err());
        let snapshot = snapshot.unwrap();
        for choices in &requests {
            let owned = bytes::request(&document, choices);
            let asked = owned.as_request();
            let engine = reqflo_policy::decide(&snapshot, &asked);
            let oracle = reference::decide(&document, &asked);
            prop_assert_eq!(engine.allowed, oracle.allowed, "allowed differs for {:?}\nengine: {:?}\nreference: {:?}", asked, engine, oracle);
            prop_assert_eq!(engine.code(), oracle.code(), "headline differs for {:?}\nengine: {:?}\nreference: {:?}", asked, engine, oracle);
            let codes = |d: &reqflo_policy::Decision| d.reasons.iter().map(|r| r.code).collect::<Vec<_>>();
            prop_assert_eq!(codes(&engine), codes(&oracle), "reason codes differ for {:?}", asked);
            prop_assert_eq!(&engine, &oracle, "decisions differ for {:?}", asked);
        }
    }
}
