//! The closed vocabularies of the access model: actions, roles, risk levels.
//!
//! Everything here is `Copy`, parses from and prints as the snake_case names
//! used in policy documents, route configs and reason codes.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in documents and reason codes.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the document name; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Position in [`Self::ALL`], for bitsets.
            pub const fn index(self) -> u32 {
                self as u32
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// An action a user asks to perform on a resource.
    Action {
        View = "view",
        Use = "use",
        Run = "run",
        Edit = "edit",
        Administer = "administer",
        ManageAccess = "manage_access",
        ManageScopes = "manage_scopes",
        ManageSecrets = "manage_secrets",
        ManageIntegrations = "manage_integrations",
        ManageSso = "manage_sso",
        ManageScim = "manage_scim",
        ManageBilling = "manage_billing",
        ManageUsers = "manage_users",
        ManageGroups = "manage_groups",
        ManageSettings = "manage_settings",
        Attach = "attach",
    }
}

impl Action {
    /// `administer` and every `manage_*` action: decided in step 3 of the flow.
    pub const fn is_administrative(self) -> bool {
        matches!(
            self,
            Action::Administer
                | Action::ManageAccess
                | Action::ManageScopes
                | Action::ManageSecrets
                | Action::ManageIntegrations
                | Action::ManageSso
                | Action::ManageScim
                | Action::ManageBilling
                | Action::ManageUsers
                | Action::ManageGroups
                | Action::ManageSettings
        )
    }

    /// `use` and `run` check restricted dependencies and the target environment.
    pub const fn checks_dependencies(self) -> bool {
        matches!(self, Action::Use | Action::Run)
    }

    /// The single bit of this action in an [`ActionSet`].
    pub const fn bit(self) -> ActionSet {
        ActionSet(1 << self as u32)
    }
}

/// A set of actions as a bitset; `Copy` and allocation-free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(pub u32);

impl ActionSet {
    pub const EMPTY: ActionSet = ActionSet(0);
    pub const ALL: ActionSet = ActionSet((1 << Action::ALL.len() as u32) - 1);

    pub const fn of(actions: &[Action]) -> ActionSet {
        let mut bits = 0;
        let mut i = 0;
        while i < actions.len() {
            bits |= 1 << actions[i] as u32;
            i += 1;
        }
        ActionSet(bits)
    }

    pub const fn contains(self, action: Action) -> bool {
        self.0 & (1 << action as u32) != 0
    }

    pub const fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Applies the only implications of the model: `edit`, `use` and `run`
    /// each imply `view` of the same resource.
    pub const fn with_implied(self) -> ActionSet {
        let implies_view = ActionSet::of(&[Action::Edit, Action::Use, Action::Run]).0;
        if self.0 & implies_view != 0 {
            ActionSet(self.0 | Action::View.bit().0)
        } else {
            self
        }
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(move |a| self.contains(*a))
    }
}

vocabulary! {
    /// A role that applies to every resource of an organization.
    OrgRole {
        OrgOwner = "org_owner",
        OrgAdmin = "org_admin",
        SecurityAdmin = "security_admin",
        BillingAdmin = "billing_admin",
        IntegrationAdmin = "integration_admin",
        Member = "member",
        Viewer = "viewer",
    }
}

impl OrgRole {
    /// The role's name as the seeds write it ("Security Admin").
    pub const fn title(self) -> &'static str {
        match self {
            OrgRole::OrgOwner => "Org Owner",
            OrgRole::OrgAdmin => "Org Admin",
            OrgRole::SecurityAdmin => "Security Admin",
            OrgRole::BillingAdmin => "Billing Admin",
            OrgRole::IntegrationAdmin => "Integration Admin",
            OrgRole::Member => "Member",
            OrgRole::Viewer => "Viewer",
        }
    }
}

vocabulary! {
    /// A role on a service team; applies to the service and every resource it owns.
    ServiceRole {
        Owner = "owner",
        Maintainer = "maintainer",
        Runner = "runner",
        Viewer = "viewer",
        Auditor = "auditor",
    }
}

vocabulary! {
    /// A role on one resource.
    ResourceRole {
        Owner = "owner",
        Maintainer = "maintainer",
        User = "user",
        Viewer = "viewer",
    }
}

vocabulary! {
    /// How risky a resource is; a resource may carry several.
    RiskLevel {
        Normal = "normal",
        Sensitive = "sensitive",
        Production = "production",
        Destructive = "destructive",
    }
}

vocabulary! {
    /// A privilege that only `org_owner` or a grant naming it confers.
    Privilege {
        Production = "production",
        Destructive = "destructive",
    }
}

vocabulary! {
    /// Who may discover a resource.
    #[derive(Default)]
    Visibility {
        #[default]
        Org = "org",
        Restricted = "restricted",
    }
}

vocabulary! {
    /// How permissions beyond `view` are evaluated for a resource.
    #[derive(Default)]
    AccessMode {
        #[default]
        Open = "open",
        ServiceControlled = "service_controlled",
        Restricted = "restricted",
    }
}

vocabulary! {
    /// A user's membership status in one organization.
    MembershipStatus {
        Active = "active",
        Invited = "invited",
        Suspended = "suspended",
        Deactivated = "deactivated",
    }
}

vocabulary! {
    /// Where a group is managed.
    #[derive(Default)]
    GroupSource {
        #[default]
        Local = "local",
        Scim = "scim",
    }
}

/// The words a person reads for a resource kind: `auth_config` → "auth config".
pub fn kind_noun(kind: &str) -> std::borrow::Cow<'_, str> {
    match kind {
        "oauth_config" => "OAuth config".into(),
        "org_settings" => "organization settings".into(),
        "sso_config" => "SSO config".into(),
        "scim_config" => "SCIM config".into(),
        other if other.contains('_') => other.replace('_', " ").into(),
        other => other.into(),
    }
}
