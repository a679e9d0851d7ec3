//! The synthetic worlds are valid documents, and their request streams lean
//! the way they say.

use reqflo_policy::synthetic::{self, Mix, Size};
use reqflo_policy::{Snapshot, decide, validate};

fn assert_valid(size: Size) {
    let document = synthetic::generate(size, 42);
    if let Err(errors) = validate(&document) {
        let first: Vec<String> = errors.0.iter().take(10).map(|e| e.to_string()).collect();
        panic!(
            "{} world is invalid: {} errors, first: {first:#?}",
            size.name(),
            errors.0.len()
        );
    }
}

#[test]
fn s_world_is_valid() {
    assert_valid(Size::S);
}

#[test]
fn m_world_is_valid() {
    assert_valid(Size::M);
}

#[test]
#[ignore = "builds the 500k-grant world; run with --ignored (the benches also validate it)"]
fn l_world_is_valid() {
    assert_valid(Size::L);
}

#[test]
fn json_text_reads_back_as_the_same_document() {
    let text = synthetic::generate_json(Size::S, 42);
    let document = reqflo_policy::Document::from_json(&text).unwrap();
    assert_eq!(document, synthetic::generate(Size::S, 42));
}

#[test]
fn yaml_text_reads_back_as_the_same_document() {
    let text = synthetic::generate_yaml(Size::S, 42);
    let document = reqflo_policy::Document::from_yaml(&text).unwrap();
    assert_eq!(document, synthetic::generate(Size::S, 42));
}

/// Counts allows over the stream; the mixes must lean clearly their way.
fn allowed_share(mix: Mix) -> f64 {
    let document = synthetic::generate(Size::S, 42);
    let snapshot = match Snapshot::compile(&document) {
        Ok(snapshot) => snapshot,
        Err(errors) => panic!("S world does not compile: {errors}"),
    };
    let requests = synthetic::requests(&document, 2_000, 9, mix);
    let allowed = requests
        .iter()
        .filter(|r| decide(&snapshot, &r.as_request()).allowed)
        .count();
    allowed as f64 / requests.len() as f64
}

#[test]
fn allow_mix_is_mostly_allowed() {
    let share = allowed_share(Mix::AllowHeavy);
    assert!(share > 0.6, "allow-heavy mix allowed only {share:.2}");
}

#[test]
fn deny_mix_is_mostly_denied() {
    let share = allowed_share(Mix::DenyHeavy);
    assert!(share < 0.3, "deny-heavy mix allowed {share:.2}");
}
