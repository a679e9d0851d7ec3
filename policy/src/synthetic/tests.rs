use super::*;
use crate::document::Scope;

#[test]
fn same_seed_same_world_other_seed_other_world() {
    let a = generate(Size::S, 7);
    assert_eq!(a, generate(Size::S, 7));
    assert_ne!(a, generate(Size::S, 8));
}

#[test]
fn s_has_the_promised_counts() {
    let shape = Size::S.shape();
    let doc = generate(Size::S, 1);
    assert_eq!(doc.orgs.len(), shape.orgs);
    assert_eq!(doc.users.len(), shape.users);
    let sum = |f: fn(&crate::document::Org) -> usize| doc.orgs.iter().map(f).sum::<usize>();
    assert_eq!(sum(|o| o.groups.len()), shape.groups);
    assert_eq!(sum(|o| o.services.len()), shape.services);
    assert_eq!(sum(|o| o.resources.len()), shape.resources);
    assert_eq!(sum(|o| o.grants.len()), shape.grants);
}

#[test]
fn has_kind_and_label_grants_and_dependencies() {
    let doc = generate(Size::S, 1);
    let grants = doc.orgs.iter().flat_map(|o| &o.grants);
    assert!(grants.clone().any(|g| matches!(g.scope, Scope::Kind(_))));
    assert!(grants.clone().any(|g| matches!(g.scope, Scope::Label(_))));
    assert!(grants.clone().any(|g| g.environments.is_some()));
    assert!(
        doc.orgs
            .iter()
            .flat_map(|o| &o.resources)
            .any(|r| !r.depends_on.is_empty())
    );
}

#[test]
fn requests_are_deterministic_and_counted() {
    let doc = generate(Size::S, 1);
    for mix in Mix::ALL {
        let a = requests(&doc, 500, 3, *mix);
        assert_eq!(a.len(), 500);
        assert_eq!(a, requests(&doc, 500, 3, *mix));
    }
}

#[test]
fn rng_below_stays_in_range() {
    let mut rng = rng::Rng::new(1);
    assert_eq!(rng.below(0), 0);
    assert!((0..10_000).all(|_| rng.below(7) < 7));
}
