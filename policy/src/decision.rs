//! The question (`Request`) and the answer (`Decision`), with its reasons as data.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use smol_str::SmolStr;

use crate::model::{Action, OrgRole, Privilege, ResourceRole, ServiceRole};

/// May `user`, in `org`, perform `action` on `resource` (in `environment`)?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request<'a> {
    pub org: &'a str,
    pub user: &'a str,
    /// Typed when the caller has an [`Action`] (the gateway, from its route
    /// table); a name from text (`"run".into()`) is parsed once, and one
    /// that is not an action is denied with `unknown_action`.
    pub action: RequestAction<'a>,
    pub resource: &'a str,
    /// The target environment's resource id, for runs.
    pub environment: Option<&'a str>,
}

/// The action a request asks about: an [`Action`], or a name that is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestAction<'a> {
    Known(Action),
    /// Not an action the access model knows.
    Unknown(&'a str),
}

impl RequestAction<'_> {
    /// The action, when it is one.
    pub const fn action(self) -> Option<Action> {
        match self {
            RequestAction::Known(a) => Some(a),
            RequestAction::Unknown(_) => None,
        }
    }

    pub const fn as_str(&self) -> &str {
        match self {
            RequestAction::Known(a) => a.as_str(),
            RequestAction::Unknown(name) => name,
        }
    }
}

impl<'a> From<&'a str> for RequestAction<'a> {
    fn from(name: &'a str) -> Self {
        Action::parse(name).map_or(RequestAction::Unknown(name), RequestAction::Known)
    }
}

impl From<Action> for RequestAction<'_> {
    fn from(action: Action) -> Self {
        RequestAction::Known(action)
    }
}

/// The sentence of `resource_not_found` and `not_visible`: a resource the
/// user may not see reads exactly as one that does not exist.
pub const HIDDEN_SENTENCE: &str = "This resource does not exist, or you do not have access to it.";

/// A stable reason code, one per kind of failed check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    NotOrgMember,
    MembershipInactive,
    UnknownAction,
    ResourceNotFound,
    EnvironmentNotFound,
    NotVisible,
    AdminRoleRequired,
    PermissionMissing,
    RiskPrivilegeMissing,
    RestrictedDependency,
}

impl ReasonCode {
    pub const ALL: &'static [ReasonCode] = &[
        ReasonCode::NotOrgMember,
        ReasonCode::MembershipInactive,
        ReasonCode::UnknownAction,
        ReasonCode::ResourceNotFound,
        ReasonCode::EnvironmentNotFound,
        ReasonCode::NotVisible,
        ReasonCode::AdminRoleRequired,
        ReasonCode::PermissionMissing,
        ReasonCode::RiskPrivilegeMissing,
        ReasonCode::RestrictedDependency,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NotOrgMember => "not_org_member",
            ReasonCode::MembershipInactive => "membership_inactive",
            ReasonCode::UnknownAction => "unknown_action",
            ReasonCode::ResourceNotFound => "resource_not_found",
            ReasonCode::EnvironmentNotFound => "environment_not_found",
            ReasonCode::NotVisible => "not_visible",
            ReasonCode::AdminRoleRequired => "admin_role_required",
            ReasonCode::PermissionMissing => "permission_missing",
            ReasonCode::RiskPrivilegeMissing => "risk_privilege_missing",
            ReasonCode::RestrictedDependency => "restricted_dependency",
        }
    }

    pub fn parse(text: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    /// A denial that must look exactly like "there is no such resource", so
    /// that it reveals nothing about a resource the user may not see.
    pub const fn is_hidden(self) -> bool {
        matches!(self, ReasonCode::ResourceNotFound | ReasonCode::NotVisible)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object a reason concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// `org`, `user`, `action`, or a resource kind (`journey`, `oauth_config`, …).
    pub kind: String,
    /// Absent when the user may not see the object: then only its kind is told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: ReasonCode,
    /// A sentence a person can act on.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// For `restricted_dependency`: why the dependency itself refused `use`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<Reason>>,
    /// What would grant it, most specific first: roles and privileges by
    /// name and scope, never a principal the requester may not see. Empty
    /// (and not serialized) where nothing can be said: membership, unknown
    /// or hidden objects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remedy: Vec<Remedy>,
}

impl Reason {
    /// A reason with no cause and no remedy.
    pub fn new(code: ReasonCode, message: String, object: Option<ObjectRef>) -> Reason {
        Reason {
            code,
            message,
            object,
            cause: None,
            remedy: Vec::new(),
        }
    }
}

/// One way a denied request could be allowed, as data: what the requester
/// would need to hold. Serialized by its field names, e.g.
/// `{"service_role": "runner", "service": "checkout"}`,
/// `{"org_role": "security_admin"}`, `{"privilege": "production"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Remedy {
    /// Membership in a group that the resource's grants and roles name.
    Group { group: SmolStr },
    /// An org role (`member` for the open-resource defaults).
    OrgRole { org_role: OrgRole },
    /// A seat with this role on the team of the resource's owning service.
    ServiceRole {
        service_role: ServiceRole,
        service: SmolStr,
    },
    /// A role on the resource itself.
    ResourceRole { resource_role: ResourceRole },
    /// An explicit grant of the action on the resource.
    Grant { grant: Action },
    /// A risk privilege (held through a grant that lists it, or `org_owner`).
    Privilege { privilege: Privilege },
}

/// What allowed an allowed request: the first source, in decision-flow order.
///
/// Ids are [`SmolStr`]s, which the snapshot stores: an id of up to 23 bytes
/// is held inline, so naming the group, service or grant copies it from the
/// record the decision already read, with no reference count to touch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum AllowedBy {
    /// An org role that carries the action (`org_owner`, `security_admin`, …),
    /// held directly or through the named group.
    OrgRole {
        role: OrgRole,
        #[serde(skip_serializing_if = "Option::is_none")]
        via_group: Option<SmolStr>,
    },
    /// The defaults members (or viewers) get on open, visible resources.
    Default { role: OrgRole },
    /// `view` of an org-visible resource, which every active member has.
    Visibility,
    /// A seat on the owning service's team.
    ServiceRole { service: SmolStr, role: ServiceRole },
    /// A resource role on the resource itself.
    ResourceRole { role: ResourceRole },
    /// A grant, by id.
    Grant { id: SmolStr },
}

impl fmt::Display for AllowedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedBy::OrgRole {
                role,
                via_group: None,
            } => write!(f, "org role `{role}`"),
            AllowedBy::OrgRole {
                role,
                via_group: Some(group),
            } => {
                write!(f, "org role `{role}` through group `{group}`")
            }
            AllowedBy::Default { role } => write!(f, "the `{role}` defaults for open resources"),
            AllowedBy::Visibility => f.write_str("org-wide visibility"),
            AllowedBy::ServiceRole { service, role } => {
                write!(f, "service role `{role}` on service `{service}`")
            }
            AllowedBy::ResourceRole { role } => write!(f, "resource role `{role}`"),
            AllowedBy::Grant { id } => write!(f, "grant `{id}`"),
        }
    }
}

/// The answer to a [`Request`].
///
/// An allow carries `allowed_by` and no reasons, and is built without
/// allocating. A deny carries every failed check in decision-flow order; the
/// first is the headline, and `headline` is the one sentence to show a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reasons: Vec<Reason>,
    pub allowed_by: Option<AllowedBy>,
    /// The deny sentence; empty on allow (see [`Decision::message`]).
    pub headline: String,
}

impl Decision {
    pub fn allow(allowed_by: AllowedBy) -> Decision {
        Decision {
            allowed: true,
            reasons: Vec::new(),
            allowed_by: Some(allowed_by),
            headline: String::new(),
        }
    }

    /// A deny whose headline is the first reason's message.
    pub fn deny(reasons: Vec<Reason>) -> Decision {
        let headline = reasons
            .first()
            .map(|r| r.message.clone())
            .unwrap_or_default();
        Decision {
            allowed: false,
            reasons,
            allowed_by: None,
            headline,
        }
    }

    /// The headline reason code: `None` on allow.
    pub fn code(&self) -> Option<ReasonCode> {
        self.reasons.first().map(|r| r.code)
    }

    /// One sentence: the deny headline, or what allowed it.
    pub fn message(&self) -> Cow<'_, str> {
        match (&self.allowed_by, self.allowed) {
            (Some(by), true) => Cow::Owned(format!("Allowed by {by}.")),
            _ => Cow::Borrowed(&self.headline),
        }
    }
}
