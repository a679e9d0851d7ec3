use super::*;
use crate::document::Document;

fn errors(yaml: &str) -> Vec<String> {
    let document = Document::from_yaml(yaml).unwrap();
    match validate(&document) {
        Ok(()) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_empty_document_is_valid() {
    assert_eq!(errors("orgs: []"), Vec::<String>::new());
}

#[test]
fn two_cycles_through_one_resource_are_reported_separately() {
    let found = errors(
        "orgs:\n- id: o\n  resources:\n  - {id: a, kind: journey, depends_on: [b, c]}\n  - {id: b, kind: component, depends_on: [a]}\n  - {id: c, kind: component, depends_on: [a]}\n",
    );
    assert_eq!(
        found,
        vec![
            "orgs[o].resources[a].depends_on[0]: dependency cycle `a -> b -> a`",
            "orgs[o].resources[a].depends_on[1]: dependency cycle `a -> c -> a`",
        ]
    );
}

#[test]
fn a_diamond_is_not_a_cycle() {
    let found = errors(
        "orgs:\n- id: o\n  resources:\n  - {id: a, kind: journey, depends_on: [b, c]}\n  - {id: b, kind: component, depends_on: [d]}\n  - {id: c, kind: component, depends_on: [d]}\n  - {id: d, kind: secret}\n",
    );
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn a_long_chain_does_not_overflow_the_stack() {
    let mut yaml = String::from("orgs:\n- id: o\n  resources:\n");
    for i in 0..50_000 {
        yaml.push_str(&format!(
            "  - {{id: r{i}, kind: component, depends_on: [r{}]}}\n",
            i + 1
        ));
    }
    yaml.push_str("  - {id: r50000, kind: component, depends_on: [r0]}\n");
    let found = errors(&yaml);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("orgs[o].resources[r0].depends_on[0]: dependency cycle `r0 -> r1 -> ")
    );
}
