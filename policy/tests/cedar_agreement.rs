//! Cedar and this engine agree on every sampled decision over the part of
//! the model Cedar expresses (see `benches/support/cedar.rs` for the
//! translation and what it leaves out).

#[path = "../benches/support/cedar.rs"]
mod cedar;

use reqflo_policy::document::Document;
use reqflo_policy::synthetic::{self, Mix, Shape, Size};
use reqflo_policy::{Snapshot, decide};

/// Runs `per_mix` allow-heavy and `per_mix` deny-heavy requests through both
/// engines; returns (requests, allowed).
fn agree(world: &Document, per_mix: usize, seed: u64) -> (usize, usize) {
    let document = cedar::subset(world);
    let snapshot = match Snapshot::compile(&document) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("subset does not compile: {errors}"),
    };
    let cedar = cedar::CedarWorld::new(&document);
    let mut checked = 0;
    let mut allowed = 0;
    let mut disagreements = Vec::new();
    for mix in Mix::ALL {
        for request in synthetic::requests(world, per_mix, seed, *mix) {
            let request = cedar::without_environment(&request);
            let ours = decide(&snapshot, &request.as_request());
            let cedar_request = cedar.request(&request);
            let theirs = cedar.is_authorized(&cedar_request);
            if checked % 10 == 0 {
                let errors = cedar.errors(&cedar_request);
                assert!(errors.is_empty(), "cedar errors on {request:?}: {errors:?}");
            }
            checked += 1;
            allowed += usize::from(ours.allowed);
            if ours.allowed != theirs {
                disagreements.push(format!(
                    "{request:?}: ours {:?} {:?}, cedar {theirs}",
                    ours.code(),
                    ours.allowed_by
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {checked} decisions differ, first: {:#?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(10)]
    );
    (checked, allowed)
}

#[test]
fn cedar_agrees_on_s_worlds() {
    let mut total = 0;
    let mut allowed = 0;
    for seed in [1, 2, 3] {
        let (n, a) = agree(&synthetic::generate(Size::S, seed), 2_000, seed);
        total += n;
        allowed += a;
    }
    // A multi-org world with more users per group.
    let shape = Shape {
        orgs: 2,
        users: 400,
        groups: 40,
        services: 40,
        resources: 3_000,
        grants: 3_000,
        max_depth: 5,
    };
    let (n, a) = agree(&synthetic::generate_shape(&shape, 9), 3_000, 9);
    total += n;
    allowed += a;
    assert!(total >= 10_000, "sampled only {total}");
    // Both answers occur in bulk, so agreement means something.
    assert!(
        allowed > total / 5 && allowed < total * 4 / 5,
        "{allowed} of {total} allowed"
    );
}

#[test]
#[ignore = "translates the M world (slow in a debug build); run with --release --ignored"]
fn cedar_agrees_on_the_m_world() {
    let (n, _) = agree(&synthetic::generate(Size::M, 42), 5_000, 42);
    assert_eq!(n, 10_000);
}
