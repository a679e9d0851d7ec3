//! The policy document: the typed data Reqflo's control plane exports.
//!
//! These are the *raw* types: they reject unknown fields and hold strings as
//! written. Nothing here is trusted until [`crate::validate`] has accepted it;
//! [`crate::Snapshot::compile`] turns a valid document into the fast form.
//!
//! Ids are strings. Users are global (a user may belong to several orgs);
//! everything else lives inside one org and its id is unique within that org
//! (services and resources share one id space, since a service is a resource).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{
    AccessMode, Action, GroupSource, MembershipStatus, OrgRole, Privilege, ResourceRole, RiskLevel,
    ServiceRole, Visibility,
};

/// A whole policy document: orgs (with their groups, services, resources and
/// grants) and the users who belong to them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Free-form schema version marker; `1` today.
    #[serde(default = "default_version")]
    pub version: u32,
    /// The organizations; each holds its groups, services, resources and grants.
    pub orgs: Vec<Org>,
    /// Every user, with a membership per org they belong to.
    #[serde(default)]
    pub users: Vec<User>,
}

fn default_version() -> u32 {
    1
}

/// An organization: the tenant boundary. Everything but users lives inside one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Org {
    /// Unique among orgs; requests name the org by this id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Groups of the org's users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Services, each with its team. Services and resources share one id space.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// Everything else that can be viewed, used, run, edited or administered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// Grants: principal → actions and privileges on a scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

/// A person with an account; belongs to orgs through memberships.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Unique among users; requests name the user by this id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At most one membership per org.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<Membership>,
}

/// A user's membership in one org.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// The org's id.
    pub org: String,
    /// Only `active` members are evaluated at all.
    pub status: MembershipStatus,
    /// Org roles held directly (groups can add more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<OrgRole>,
}

/// A collection of users; receives org roles, team seats and grants.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Unique among the org's groups.
    pub id: String,
    /// Display name, used in explanations ("the Support Tier 2 group").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `local` or `scim` (managed by the identity provider).
    #[serde(default)]
    pub source: GroupSource,
    /// User ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Org roles every member of the group holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<OrgRole>,
}

/// A service: a resource of kind `service` that also has a service team.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Unique among the org's services and resources.
    pub id: String,
    /// Display name, used in explanations ("a Checkout service owner").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `org` (every active member may view it) or `restricted`.
    #[serde(default)]
    pub visibility: Visibility,
    /// Who may discover the service when its visibility is `restricted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visible_to: Vec<Principal>,
    /// `open`, `service_controlled` or `restricted`.
    #[serde(default)]
    pub access_mode: AccessMode,
    /// Risk levels: `normal`, `sensitive`, `production`, `destructive`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk: Vec<RiskLevel>,
    /// Free-form labels that grants can scope to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The service team: seats of users or groups, each with a service role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team: Vec<Seat>,
}

/// One seat on a service team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Seat {
    /// A user or a group of the org.
    pub member: TeamMember,
    /// `owner`, `maintainer`, `runner`, `viewer` or `auditor`.
    pub role: ServiceRole,
}

/// Who sits on a team seat.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeamMember {
    /// One user, by id.
    User(String),
    /// Every member of a group, by group id.
    Group(String),
}

/// Something in Reqflo that can be viewed, used, run, edited or administered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Unique among the org's services and resources.
    pub id: String,
    /// `journey`, `request_template`, `environment`, `auth_config`, `oauth_config`,
    /// `secret`, `component`, `mock`, `credential`, `runbook`,
    /// `integration_connection`, `billing_setting`, `org_settings`, … (open set;
    /// `service` is reserved for the `services` list).
    pub kind: String,
    /// Display name, used in explanations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The owning service's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `org` (every active member may view it) or `restricted`.
    #[serde(default)]
    pub visibility: Visibility,
    /// Who may discover a `restricted`-visibility resource (besides holders of
    /// a role or grant on it, and org owners).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visible_to: Vec<Principal>,
    /// `open` (member defaults apply), `service_controlled` (the owning
    /// service's team decides) or `restricted` (explicit roles and grants
    /// only). When omitted, the seeds' default for the resource's kind and
    /// risk ([`crate::defaults::SeedRule`]; `restricted` for secrets,
    /// production credentials, billing, SSO/SCIM, organization settings and
    /// integration connections), else `open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<AccessMode>,
    /// Why an explicit `access_mode` weaker than the seed default is meant
    /// (required then, refused otherwise); `validate` lists each one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weaker_access_reason: Option<String>,
    /// Risk levels: `normal`, `sensitive`, `production`, `destructive`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk: Vec<RiskLevel>,
    /// A secret-backed component or auth config (kind `secret` is always secret-backed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret_backed: bool,
    /// Ids of resources this one needs at use and run time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Resource-role assignments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleAssignment>,
    /// Free-form labels that grants can scope to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// A resource role given to a principal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    /// Who holds the role.
    pub principal: Principal,
    /// `owner`, `maintainer`, `user` or `viewer`.
    pub role: ResourceRole,
}

/// Anything that can receive a grant, a role or visibility.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    /// One user, by id.
    User(String),
    /// Every member of a group, by group id.
    Group(String),
    /// Everyone seated on a service's team, by service id.
    Team(String),
    /// Everyone holding an org role (directly or through a group).
    OrgRole(OrgRole),
}

/// A principal's permission to perform actions on a scope of resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Unique among the org's grants; named in `allowed_by`.
    pub id: String,
    /// Who receives the grant.
    pub principal: Principal,
    /// Which resources it covers.
    pub scope: Scope,
    /// Actions it allows on its scope. A grant needs at least one action or privilege.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Risk privileges the grant confers on its scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub privileges: Vec<Privilege>,
    /// If set, the grant applies only to requests whose target environment is
    /// one of these environment resource ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
}

/// The resources a grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One resource (or service), by id.
    Resource(String),
    /// The service and every resource it owns, by service id.
    Service(String),
    /// Every resource of a kind.
    Kind(String),
    /// Every resource carrying a label.
    Label(String),
}

/// Reads YAML the way policy documents are read: an enum value (a principal,
/// a scope, a team member) is written as a single-key map, `{user: alice}`, the
/// same form JSON uses, at any depth. (YAML tags such as `!user alice` are not
/// accepted.)
///
/// Use this for any file that embeds policy types (scenario files, route
/// configs): plain `serde_yaml_ng::from_str` accepts only the tag form.
pub fn from_yaml_str<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, serde_yaml_ng::Error> {
    serde_yaml_ng::with::singleton_map_recursive::deserialize(
        serde_yaml_ng::Deserializer::from_str(text),
    )
}

/// The input could not be read as a policy document.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl ParseError {
    /// Where the parser stopped, as 1-based (line, column), when known.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            ParseError::Yaml(e) => e.location().map(|l| (l.line(), l.column())),
            ParseError::Json(e) if e.line() > 0 => Some((e.line(), e.column())),
            ParseError::Json(_) => None,
        }
    }

    /// The message without the position the parser appends to it.
    pub fn message(&self) -> String {
        let text = self.to_string();
        match self.location() {
            Some((line, column)) => {
                let suffix = format!(" at line {line} column {column}");
                match text.find(&suffix) {
                    Some(at) => format!("{}{}", &text[..at], &text[at + suffix.len()..]),
                    None => text,
                }
            }
            None => text,
        }
    }

    /// One line for a person: `file:line:column: message` (or `file: message`
    /// when the position is unknown).
    pub fn located(&self, file: &str) -> String {
        match self.location() {
            Some((line, column)) => format!("{file}:{line}:{column}: {}", self.message()),
            None => format!("{file}: {}", self.message()),
        }
    }
}

impl Document {
    /// Reads YAML (JSON is YAML too, but prefer [`Document::from_json`] for JSON:
    /// its error positions are exact).
    ///
    /// Enums (principals, scopes, team members) are written as single-key maps,
    /// `principal: {user: alice}`, as in JSON; see [`from_yaml_str`].
    pub fn from_yaml(text: &str) -> Result<Document, ParseError> {
        Ok(from_yaml_str(text)?)
    }

    pub fn from_json(text: &str) -> Result<Document, ParseError> {
        Ok(serde_json::from_str(text)?)
    }

    /// JSON if the text starts with `{`, else YAML.
    pub fn parse(text: &str) -> Result<Document, ParseError> {
        if text.trim_start().starts_with('{') {
            Document::from_json(text)
        } else {
            Document::from_yaml(text)
        }
    }

    /// The JSON Schema of the document, for editors.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Document)).unwrap_or_default()
    }
}
