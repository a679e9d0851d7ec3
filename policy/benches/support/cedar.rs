//! The part of Reqflo's access model that Cedar expresses, as Cedar policies
//! and entities for one policy document (issue 5, "the decision engine
//! against a peer"). Shared by `benches/cedar.rs` and `tests/cedar_agreement.rs`.
//!
//! The translation is the idiomatic relationship-based one: grants and roles
//! are data (entity attributes and parents), and a fixed handful of policies
//! per org reads them, so Cedar's cost does not grow with the number of
//! grants. Only kind- and label-scoped grants (a few per org) become one
//! policy each.
//!
//! Entities (ids are `org/id`, since everything but users lives in one org):
//! - `Org::"acme"`: parent of every active member and every resource.
//! - `User::"acme/u1"`: one per *active* membership (inactive members have no
//!   entity, so no policy can match them); parents: the org, its groups, its
//!   directly held org roles, its team seats.
//! - `Group::"acme/g1"`: parents: the group's org roles and team seats.
//! - `Role::"acme/member"`: an org role.
//! - `Team::"acme/svc-1/owner"` (a seat role on a team), parent
//!   `TeamAny::"acme/svc-1"` (any seat on the team: the `team:` principal).
//! - `Resource::"acme/r"` for resources and services, with attributes `kind`,
//!   `org_visible`, `mode`, `secret_backed`, `labels`, `visible_to`, `svc` (the
//!   owning service, a service itself for a service), `g_<action>` (the
//!   principals of resource roles and resource-scoped grants carrying the
//!   action, `g_any` for any action); services also carry `s_<action>` and
//!   `s_any` (service-scoped grants) and `t_<role>`, `t_any` (their team).
//!
//! What is left out (the comparison runs on [`subset`] of the document, with
//! requests that name no environment):
//! - risk levels and risk privileges (`production`, `destructive`), and so the
//!   sensitivity rules (member defaults on sensitive resources, security
//!   admins' `manage_access` on sensitive resources);
//! - grant environment limits and target environments (a run's environment
//!   as an implicit dependency and its risk);
//! - restricted dependencies (the transitive walk over `depends_on`);
//! - reasons, sentences and `allowed_by`: Cedar answers allow/deny and the
//!   ids of the determining policies, not the model's explanation.
//!
//! What the translation does *not* hand to Cedar precomputed: group and team
//! membership (Cedar's own entity hierarchy and transitive closure), which
//! role carries which action, defaults, access modes, visibility and the
//! attach rule (all in policies).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use reqflo_policy::document::{Document, Org, Principal, Resource, Scope, Service, TeamMember};
use reqflo_policy::model::{
    AccessMode, Action, ActionSet, MembershipStatus, ResourceRole, ServiceRole, Visibility,
};
use reqflo_policy::synthetic::OwnedRequest;

/// The document with what Cedar does not express taken out: no risk levels,
/// no privileges, no dependencies, no environment-limited grants (they never
/// apply to a request without an environment).
pub fn subset(document: &Document) -> Document {
    let mut out = document.clone();
    for org in &mut out.orgs {
        for service in &mut org.services {
            service.risk.clear();
        }
        for resource in &mut org.resources {
            // The access mode stays what it was with the risk (the seed
            // default of a production credential depends on it).
            resource.access_mode = Some(resource.effective_access_mode());
            resource.risk.clear();
            resource.depends_on.clear();
            if resource.weakened_rule().is_none() {
                resource.weaker_access_reason = None;
            }
        }
        org.grants.retain(|g| g.environments.is_none());
        for grant in &mut org.grants {
            grant.privileges.clear();
        }
        org.grants.retain(|g| !g.actions.is_empty());
    }
    out
}

/// A request with every environment removed, for the subset.
pub fn without_environment(request: &OwnedRequest) -> OwnedRequest {
    OwnedRequest {
        environment: None,
        ..request.clone()
    }
}

/// Cedar's form of one document: policies, entities, and an authorizer.
pub struct CedarWorld {
    pub policies: PolicySet,
    pub entities: Entities,
    authorizer: Authorizer,
    types: Types,
}

struct Types {
    user: EntityTypeName,
    action: EntityTypeName,
    resource: EntityTypeName,
}

fn type_name(name: &str) -> EntityTypeName {
    EntityTypeName::from_str(name).unwrap_or_else(|e| panic!("entity type `{name}`: {e}"))
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(kind), EntityId::new(id))
}

/// A Cedar string literal.
fn lit(text: &str) -> String {
    format!("{text:?}")
}

fn principal_uid(org: &str, principal: &Principal) -> EntityUid {
    match principal {
        Principal::User(id) => uid("User", &format!("{org}/{id}")),
        Principal::Group(id) => uid("Group", &format!("{org}/{id}")),
        Principal::Team(id) => uid("TeamAny", &format!("{org}/{id}")),
        Principal::OrgRole(role) => uid("Role", &format!("{org}/{role}")),
    }
}

fn principal_text(org: &str, principal: &Principal) -> String {
    let (kind, id) = match principal {
        Principal::User(id) => ("User", id.as_str()),
        Principal::Group(id) => ("Group", id.as_str()),
        Principal::Team(id) => ("TeamAny", id.as_str()),
        Principal::OrgRole(role) => ("Role", role.as_str()),
    };
    format!("{kind}::{}", lit(&format!("{org}/{id}")))
}

fn actions_text(actions: &[&str]) -> String {
    let list: Vec<String> = actions
        .iter()
        .map(|a| format!("Action::{}", lit(a)))
        .collect();
    format!("[{}]", list.join(", "))
}

/// What a resource role carries (the model's table).
fn resource_role_actions(role: ResourceRole) -> ActionSet {
    use Action::*;
    match role {
        ResourceRole::Owner => ActionSet::of(&[View, Use, Run, Edit, Administer, ManageAccess]),
        ResourceRole::Maintainer => ActionSet::of(&[View, Use, Edit]),
        ResourceRole::User => ActionSet::of(&[View, Use, Run]),
        ResourceRole::Viewer => ActionSet::of(&[View]),
    }
}

/// Principals per action, from resource roles and grants on one object.
#[derive(Default)]
struct Holders(BTreeMap<Action, Vec<EntityUid>>);

impl Holders {
    fn add(&mut self, actions: ActionSet, principal: EntityUid) {
        for action in actions.with_implied().iter() {
            self.0.entry(action).or_default().push(principal.clone());
        }
    }

    /// `{prefix}_<action>` sets and `{prefix}_any`.
    fn attrs(&self, prefix: &str, attrs: &mut HashMap<String, RestrictedExpression>) {
        let mut any: Vec<EntityUid> = Vec::new();
        for (action, principals) in &self.0 {
            let set = principals
                .iter()
                .cloned()
                .map(RestrictedExpression::new_entity_uid);
            attrs.insert(
                format!("{prefix}_{action}"),
                RestrictedExpression::new_set(set),
            );
            any.extend(principals.iter().cloned());
        }
        if !any.is_empty() {
            let set = any.into_iter().map(RestrictedExpression::new_entity_uid);
            attrs.insert(format!("{prefix}_any"), RestrictedExpression::new_set(set));
        }
    }
}

impl CedarWorld {
    /// Translates a document (call it on [`subset`] of the world).
    pub fn new(document: &Document) -> CedarWorld {
        let mut entities: Vec<Entity> = Vec::new();
        let mut text = String::new();
        for org in &document.orgs {
            org_entities(document, org, &mut entities);
            org_policies(org, &mut text);
        }
        let policies =
            PolicySet::from_str(&text).unwrap_or_else(|e| panic!("cedar policies: {e}\n{text}"));
        let entities = Entities::from_entities(entities, None)
            .unwrap_or_else(|e| panic!("cedar entities: {e}"));
        let types = Types {
            user: type_name("User"),
            action: type_name("Action"),
            resource: type_name("Resource"),
        };
        CedarWorld {
            policies,
            entities,
            authorizer: Authorizer::new(),
            types,
        }
    }

    /// The Cedar request for one of ours (its environment is ignored).
    pub fn request(&self, request: &OwnedRequest) -> Request {
        let id = |kind: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
        };
        let principal = id(
            &self.types.user,
            &format!("{}/{}", request.org, request.user),
        );
        let action = id(&self.types.action, &request.action);
        let resource = id(
            &self.types.resource,
            &format!("{}/{}", request.org, request.resource),
        );
        Request::new(principal, action, resource, Context::empty(), None)
            .unwrap_or_else(|e| panic!("cedar request: {e}"))
    }

    /// Evaluation errors Cedar met while deciding (each policy that errored is
    /// skipped, which would make agreement hollow): none expected.
    pub fn errors(&self, request: &Request) -> Vec<String> {
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect()
    }

    pub fn is_authorized(&self, request: &Request) -> bool {
        self.authorizer
            .is_authorized(request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}

fn org_entities(document: &Document, org: &Org, out: &mut Vec<Entity>) {
    let o = org.id.as_str();
    let org_uid = uid("Org", o);
    out.push(Entity::new_no_attrs(org_uid.clone(), HashSet::new()));
    // Team seats, per member.
    let mut user_seats: HashMap<&str, HashSet<EntityUid>> = HashMap::new();
    let mut group_seats: HashMap<&str, HashSet<EntityUid>> = HashMap::new();
    for service in &org.services {
        let any = uid("TeamAny", &format!("{o}/{}", service.id));
        out.push(Entity::new_no_attrs(any.clone(), HashSet::new()));
        for role in ServiceRole::ALL {
            let team = uid("Team", &format!("{o}/{}/{role}", service.id));
            out.push(Entity::new_no_attrs(team, HashSet::from([any.clone()])));
        }
        for seat in &service.team {
            let team = uid("Team", &format!("{o}/{}/{}", service.id, seat.role));
            match &seat.member {
                TeamMember::User(u) => user_seats.entry(u.as_str()).or_default().insert(team),
                TeamMember::Group(g) => group_seats.entry(g.as_str()).or_default().insert(team),
            };
        }
    }
    for role in reqflo_policy::OrgRole::ALL {
        out.push(Entity::new_no_attrs(
            uid("Role", &format!("{o}/{role}")),
            HashSet::new(),
        ));
    }
    // Groups, and which groups each user is in.
    let mut user_groups: HashMap<&str, Vec<EntityUid>> = HashMap::new();
    for group in &org.groups {
        let group_uid = uid("Group", &format!("{o}/{}", group.id));
        let mut parents: HashSet<EntityUid> = group
            .roles
            .iter()
            .map(|r| uid("Role", &format!("{o}/{r}")))
            .collect();
        parents.extend(group_seats.remove(group.id.as_str()).unwrap_or_default());
        for member in &group.members {
            user_groups
                .entry(member.as_str())
                .or_default()
                .push(group_uid.clone());
        }
        out.push(Entity::new_no_attrs(group_uid, parents));
    }
    // Active members only.
    for user in &document.users {
        for membership in user.memberships.iter().filter(|m| m.org == org.id) {
            if membership.status != MembershipStatus::Active {
                continue;
            }
            let mut parents: HashSet<EntityUid> = HashSet::from([org_uid.clone()]);
            parents.extend(
                membership
                    .roles
                    .iter()
                    .map(|r| uid("Role", &format!("{o}/{r}"))),
            );
            parents.extend(
                user_groups
                    .get(user.id.as_str())
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            parents.extend(
                user_seats
                    .get(user.id.as_str())
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            out.push(Entity::new_no_attrs(
                uid("User", &format!("{o}/{}", user.id)),
                parents,
            ));
        }
    }
    // Resource-scoped and service-scoped holders.
    let mut on_resource: HashMap<&str, Holders> = HashMap::new();
    let mut on_service: HashMap<&str, Holders> = HashMap::new();
    for resource in &org.resources {
        for assignment in &resource.roles {
            on_resource.entry(resource.id.as_str()).or_default().add(
                resource_role_actions(assignment.role),
                principal_uid(o, &assignment.principal),
            );
        }
    }
    for grant in &org.grants {
        let actions = ActionSet::of(&grant.actions);
        let holder = principal_uid(o, &grant.principal);
        match &grant.scope {
            Scope::Resource(id) => on_resource
                .entry(id.as_str())
                .or_default()
                .add(actions, holder),
            Scope::Service(id) => on_service
                .entry(id.as_str())
                .or_default()
                .add(actions, holder),
            Scope::Kind(_) | Scope::Label(_) => {}
        }
    }
    for service in &org.services {
        let mut attrs = common_attrs(
            o,
            "service",
            service.visibility,
            &service.visible_to,
            service.access_mode,
        );
        attrs.insert(
            "secret_backed".into(),
            RestrictedExpression::new_bool(false),
        );
        attrs.insert("labels".into(), strings(&service.labels));
        attrs.insert(
            "svc".into(),
            RestrictedExpression::new_entity_uid(uid("Resource", &format!("{o}/{}", service.id))),
        );
        if let Some(holders) = on_resource.get(service.id.as_str()) {
            holders.attrs("g", &mut attrs);
        }
        if let Some(holders) = on_service.get(service.id.as_str()) {
            holders.attrs("s", &mut attrs);
        }
        team_attrs(o, service, &mut attrs);
        out.push(resource_entity(o, &service.id, attrs, &org_uid));
    }
    for resource in &org.resources {
        out.push(translate_resource(
            o,
            resource,
            on_resource.get(resource.id.as_str()),
            &org_uid,
        ));
    }
}

fn strings(values: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(values.iter().cloned().map(RestrictedExpression::new_string))
}

fn common_attrs(
    o: &str,
    kind: &str,
    visibility: Visibility,
    visible_to: &[Principal],
    mode: AccessMode,
) -> HashMap<String, RestrictedExpression> {
    let mut attrs = HashMap::new();
    attrs.insert(
        "kind".into(),
        RestrictedExpression::new_string(kind.to_string()),
    );
    attrs.insert(
        "org_visible".into(),
        RestrictedExpression::new_bool(visibility == Visibility::Org),
    );
    attrs.insert(
        "mode".into(),
        RestrictedExpression::new_string(mode.as_str().to_string()),
    );
    if !visible_to.is_empty() {
        let set = visible_to
            .iter()
            .map(|p| RestrictedExpression::new_entity_uid(principal_uid(o, p)));
        attrs.insert("visible_to".into(), RestrictedExpression::new_set(set));
    }
    attrs
}

fn team_attrs(o: &str, service: &Service, attrs: &mut HashMap<String, RestrictedExpression>) {
    for role in ServiceRole::ALL {
        let team = uid("Team", &format!("{o}/{}/{role}", service.id));
        attrs.insert(
            format!("t_{role}"),
            RestrictedExpression::new_entity_uid(team),
        );
    }
    let any = uid("TeamAny", &format!("{o}/{}", service.id));
    attrs.insert("t_any".into(), RestrictedExpression::new_entity_uid(any));
}

fn resource_entity(
    o: &str,
    id: &str,
    attrs: HashMap<String, RestrictedExpression>,
    org_uid: &EntityUid,
) -> Entity {
    Entity::new(
        uid("Resource", &format!("{o}/{id}")),
        attrs,
        HashSet::from([org_uid.clone()]),
    )
    .unwrap_or_else(|e| panic!("cedar entity `{id}`: {e}"))
}

fn translate_resource(
    o: &str,
    resource: &Resource,
    holders: Option<&Holders>,
    org_uid: &EntityUid,
) -> Entity {
    let mut attrs = common_attrs(
        o,
        &resource.kind,
        resource.visibility,
        &resource.visible_to,
        resource.effective_access_mode(),
    );
    let secret_backed = resource.secret_backed || resource.kind == "secret";
    attrs.insert(
        "secret_backed".into(),
        RestrictedExpression::new_bool(secret_backed),
    );
    attrs.insert("labels".into(), strings(&resource.labels));
    if let Some(service) = &resource.service {
        attrs.insert(
            "svc".into(),
            RestrictedExpression::new_entity_uid(uid("Resource", &format!("{o}/{service}"))),
        );
    }
    if let Some(holders) = holders {
        holders.attrs("g", &mut attrs);
    }
    resource_entity(o, &resource.id, attrs, org_uid)
}

/// The policies of one org: a fixed set, plus one per kind/label grant.
fn org_policies(org: &Org, text: &mut String) {
    let o = org.id.as_str();
    let in_org = format!("Org::{}", lit(o));
    let role = |r: &str| format!("Role::{}", lit(&format!("{o}/{r}")));
    let member_rights = [
        "member",
        "org_admin",
        "security_admin",
        "billing_admin",
        "integration_admin",
    ]
    .iter()
    .map(|r| format!("principal in {}", role(r)))
    .collect::<Vec<_>>()
    .join(" || ");
    let mut p = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    // Org roles.
    let every: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    p(format!(
        "permit(principal in {}, action in {}, resource in {in_org});",
        role("org_owner"),
        actions_text(&every)
    ));
    p(format!(
        "permit(principal in {}, action in {}, resource in {in_org});",
        role("org_admin"),
        actions_text(&["manage_users", "manage_groups", "manage_settings"])
    ));
    p(format!(
        "permit(principal in {}, action in {}, resource in {in_org});",
        role("security_admin"),
        actions_text(&[
            "manage_sso",
            "manage_scim",
            "manage_secrets",
            "manage_scopes"
        ])
    ));
    p(format!(
        "permit(principal in {}, action in {}, resource in {in_org}) when {{ resource.secret_backed && (resource.kind == \"auth_config\" || resource.kind == \"oauth_config\") }};",
        role("security_admin"),
        actions_text(&["edit", "view"])
    ));
    p(format!(
        "permit(principal in {}, action == Action::\"manage_billing\", resource in {in_org});",
        role("billing_admin")
    ));
    p(format!(
        "permit(principal in {}, action == Action::\"view\", resource in {in_org}) when {{ resource.kind == \"billing_setting\" }};",
        role("billing_admin")
    ));
    p(format!(
        "permit(principal in {}, action == Action::\"manage_integrations\", resource in {in_org});",
        role("integration_admin")
    ));
    p(format!(
        "permit(principal in {}, action in {}, resource in {in_org}) when {{ resource.kind == \"integration_connection\" }};",
        role("integration_admin"),
        actions_text(&["edit", "view"])
    ));
    // Service teams (attach rides on use: see the attach forbid).
    for (seat, actions) in [
        (
            "owner",
            &["view", "use", "attach", "run", "edit", "manage_access"][..],
        ),
        ("maintainer", &["view", "use", "attach", "edit"][..]),
        ("runner", &["view", "use", "attach", "run"][..]),
        ("viewer", &["view"][..]),
        ("auditor", &["view"][..]),
    ] {
        p(format!(
            "permit(principal in {in_org}, action in {}, resource in {in_org}) when {{ resource has svc && principal in resource.svc.t_{seat} }};",
            actions_text(actions)
        ));
    }
    // Resource roles and resource/service-scoped grants, one policy per action.
    for action in Action::ALL.iter().filter(|a| **a != Action::Attach) {
        let a = action.as_str();
        let acts = if *action == Action::Use {
            actions_text(&["use", "attach"])
        } else {
            actions_text(&[a])
        };
        p(format!(
            "permit(principal in {in_org}, action in {acts}, resource in {in_org}) when {{ (resource has g_{a} && principal in resource.g_{a}) || (resource has svc && resource.svc has s_{a} && principal in resource.svc.s_{a}) }};"
        ));
    }
    // Kind- and label-scoped grants, one policy each.
    let mut scoped_visible: Vec<String> = Vec::new();
    let mut scoped_attach: Vec<String> = Vec::new();
    for grant in &org.grants {
        let covers = match &grant.scope {
            Scope::Kind(kind) => format!("resource.kind == {}", lit(kind)),
            Scope::Label(label) => format!("resource.labels.contains({})", lit(label)),
            Scope::Resource(_) | Scope::Service(_) => continue,
        };
        let held = format!("principal in {}", principal_text(o, &grant.principal));
        let implied = ActionSet::of(&grant.actions).with_implied();
        // Attach rides on use (see the attach forbid), never on its own.
        let mut names: Vec<&str> = implied
            .iter()
            .filter(|a| *a != Action::Attach)
            .map(Action::as_str)
            .collect();
        if implied.contains(Action::Use) {
            names.push("attach");
        }
        p(format!(
            "permit(principal in {in_org}, action in {}, resource in {in_org}) when {{ {held} && {covers} }};",
            actions_text(&names)
        ));
        scoped_visible.push(format!("({held} && {covers})"));
        if implied.contains(Action::Attach) {
            scoped_attach.push(format!("({held} && {covers})"));
        }
    }
    // Defaults: view for every active member, use/run/attach on open resources
    // for member rights.
    p(format!(
        "permit(principal in {in_org}, action == Action::\"view\", resource in {in_org});"
    ));
    p(format!(
        "permit(principal in {in_org}, action in {}, resource in {in_org}) when {{ resource.mode == \"open\" && ({member_rights}) }};",
        actions_text(&["use", "run", "attach"])
    ));
    // Visibility: nothing at all on a resource the user may not see.
    let mut visible = vec![
        "resource.org_visible".to_string(),
        format!("principal in {}", role("org_owner")),
        format!("principal in {}", role("org_admin")),
        format!("principal in {}", role("security_admin")),
        format!("principal in {}", role("billing_admin")),
        format!("principal in {}", role("integration_admin")),
        "(resource has visible_to && principal in resource.visible_to)".into(),
        "(resource has svc && principal in resource.svc.t_any)".into(),
        "(resource has g_any && principal in resource.g_any)".into(),
        "(resource has svc && resource.svc has s_any && principal in resource.svc.s_any)".into(),
    ];
    visible.extend(scoped_visible);
    p(format!(
        "forbid(principal, action, resource in {in_org}) unless {{ {} }};",
        visible.join(" || ")
    ));
    // Attach on a secret-backed component needs an explicit attach.
    let mut explicit_attach = vec![
        format!("principal in {}", role("org_owner")),
        "(resource has g_attach && principal in resource.g_attach)".into(),
        "(resource has svc && resource.svc has s_attach && principal in resource.svc.s_attach)"
            .into(),
    ];
    explicit_attach.extend(scoped_attach);
    let mut line = String::new();
    let _ = write!(
        line,
        "forbid(principal, action == Action::\"attach\", resource in {in_org}) when {{ resource.secret_backed }} unless {{ {} }};",
        explicit_attach.join(" || ")
    );
    p(line);
}
