//! The seeds' defaults hold whatever else a document says about a resource,
//! as long as it says nothing about access (no `access_mode`, no role, no
//! grant): every combination of the risky kinds with every risk set,
//! visibility, secret backing and owning service is checked, and a plain
//! member may never use, run, edit or attach any of them, in any environment.

use reqflo_policy::document::{
    Document, Membership, Org, Resource, Seat, Service, TeamMember, User,
};
use reqflo_policy::{
    MembershipStatus, OrgRole, Request, RiskLevel, ServiceRole, Snapshot, Visibility, decide,
    reference,
};

/// The kinds the defaults table protects, and whether the kind needs a risk
/// (a credential is protected when it carries production risk).
const PROTECTED: &[(&str, bool, Option<RiskLevel>)] = &[
    ("secret", false, None),
    ("component", true, None),
    ("auth_config", true, None),
    ("oauth_config", true, None),
    ("credential", false, Some(RiskLevel::Production)),
    ("billing_setting", false, None),
    ("sso_config", false, None),
    ("scim_config", false, None),
    ("org_settings", false, None),
    ("integration_connection", false, None),
];

fn world() -> (Document, Vec<String>) {
    let mut resources = vec![
        Resource {
            id: "staging".into(),
            kind: "environment".into(),
            ..Resource::default()
        },
        Resource {
            id: "production".into(),
            kind: "environment".into(),
            risk: vec![RiskLevel::Production],
            ..Resource::default()
        },
    ];
    let mut ids = Vec::new();
    for (kind, secret_backed, needed) in PROTECTED {
        for risk_bits in 0u8..16 {
            let mut risk: Vec<RiskLevel> = RiskLevel::ALL
                .iter()
                .copied()
                .filter(|l| risk_bits & (1 << l.index()) != 0)
                .collect();
            if let Some(needed) = needed
                && !risk.contains(needed)
            {
                risk.push(*needed);
            }
            for visibility in Visibility::ALL {
                for service in [None, Some("checkout".to_owned())] {
                    let id = format!("r{}", resources.len());
                    ids.push(id.clone());
                    resources.push(Resource {
                        id,
                        kind: (*kind).to_owned(),
                        service,
                        visibility: *visibility,
                        risk: risk.clone(),
                        secret_backed: *secret_backed,
                        depends_on: vec!["staging".into()],
                        ..Resource::default()
                    });
                }
            }
        }
    }
    let document = Document {
        version: 1,
        orgs: vec![Org {
            id: "acme".into(),
            services: vec![Service {
                id: "checkout".into(),
                team: vec![Seat {
                    member: TeamMember::User("ria".into()),
                    role: ServiceRole::Owner,
                }],
                ..Service::default()
            }],
            resources,
            ..Org::default()
        }],
        users: ["mia", "ria"]
            .iter()
            .map(|id| User {
                id: (*id).into(),
                name: None,
                memberships: vec![Membership {
                    org: "acme".into(),
                    status: MembershipStatus::Active,
                    roles: vec![OrgRole::Member],
                }],
            })
            .collect(),
    };
    (document, ids)
}

#[test]
fn a_policy_that_says_nothing_never_opens_a_protected_kind_to_a_plain_member() {
    let (document, ids) = world();
    let snapshot = Snapshot::compile(&document).unwrap_or_else(|e| panic!("{e}"));
    let oracle = reference::World::new(&document);
    let mut checked = 0;
    for id in &ids {
        for action in ["use", "run", "edit", "attach"] {
            for environment in [None, Some("staging"), Some("production")] {
                let request = Request {
                    org: "acme",
                    user: "mia",
                    action: action.into(),
                    resource: id,
                    environment,
                };
                let engine = decide(&snapshot, &request);
                assert!(!engine.allowed, "{request:?} allowed: {engine:?}");
                assert_eq!(engine, oracle.decide(&request), "{request:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, ids.len() * 12);
}

#[test]
fn the_service_owner_still_manages_what_the_service_owns() {
    // "Service-owned resources: managed by service owners and maintainers":
    // the seat's rights hold whatever the seed default of the kind.
    let (document, ids) = world();
    let snapshot = Snapshot::compile(&document).unwrap_or_else(|e| panic!("{e}"));
    let owned: Vec<&String> = ids
        .iter()
        .filter(|id| {
            document.orgs[0]
                .resources
                .iter()
                .any(|r| &r.id == *id && r.service.is_some())
        })
        .collect();
    for id in owned {
        let request = Request {
            org: "acme",
            user: "ria",
            action: "edit".into(),
            resource: id,
            environment: None,
        };
        let decision = decide(&snapshot, &request);
        let production = document.orgs[0]
            .resources
            .iter()
            .any(|r| &r.id == id && r.risk.contains(&RiskLevel::Production));
        // Production risk needs the privilege, which no seat carries.
        assert_eq!(decision.allowed, !production, "{request:?}: {decision:?}");
    }
}
