//! The seeds' defaults table, as rules: what holds when a document leaves a
//! resource's `access_mode` unsaid.
//!
//! `permissions-overview.txt` lists, per area, the behaviour that holds by
//! default. Each row that a resource's own fields identify (its kind, its
//! risk, whether it is secret-backed) is a [`SeedRule`] here; a resource that
//! omits `access_mode` takes the rule's mode, every other resource `open`.
//! An explicit mode weaker than its rule's (`open` < `service_controlled` <
//! `restricted`) is a validation error unless the resource says why in
//! `weaker_access_reason`; `reqflo-gateway validate` lists every such
//! acknowledged weakening. The rows that need no access mode (OAuth scope
//! changes, service-owned resources) hold through the roles themselves; the
//! table in `docs/access-model-decisions.md` names the rule and the test of
//! every row.

use std::fmt;

use crate::document::{Document, Resource};
use crate::model::{AccessMode, RiskLevel};

/// One row of the seeds' defaults table that a resource's fields identify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeedRule {
    /// "Secrets: Restricted" (kind `secret`, or any secret-backed resource).
    Secrets,
    /// "Production credentials: Restricted" (kind `credential` with `production` risk).
    ProductionCredentials,
    /// "Billing: Admin-only" (kind `billing_setting`).
    Billing,
    /// "SSO/SCIM: Admin-only" (kinds `sso_config`, `scim_config`).
    SsoScim,
    /// "Billing, SSO, SCIM, and user administration" are controlled (kind
    /// `org_settings`: members, invites, organization settings).
    OrgSettings,
    /// "Integration configuration: Admin-only or integration-admin-only"
    /// (kind `integration_connection`).
    IntegrationConfiguration,
}

impl SeedRule {
    /// The first rule that applies to a resource of this kind and risk.
    pub fn of(kind: &str, risk: &[RiskLevel], secret_backed: bool) -> Option<SeedRule> {
        if kind == "secret" || secret_backed {
            return Some(SeedRule::Secrets);
        }
        match kind {
            "credential" if risk.contains(&RiskLevel::Production) => {
                Some(SeedRule::ProductionCredentials)
            }
            "billing_setting" => Some(SeedRule::Billing),
            "sso_config" | "scim_config" => Some(SeedRule::SsoScim),
            "org_settings" => Some(SeedRule::OrgSettings),
            "integration_connection" => Some(SeedRule::IntegrationConfiguration),
            _ => None,
        }
    }

    /// The rule of a resource, from the fields it states.
    pub fn of_resource(resource: &Resource) -> Option<SeedRule> {
        SeedRule::of(&resource.kind, &resource.risk, resource.secret_backed)
    }

    /// The access mode the rule gives when the document says none.
    pub const fn access_mode(self) -> AccessMode {
        AccessMode::Restricted
    }

    /// The seed row, as the overview writes it.
    pub const fn row(self) -> &'static str {
        match self {
            SeedRule::Secrets => "Secrets: Restricted",
            SeedRule::ProductionCredentials => "Production credentials: Restricted",
            SeedRule::Billing => "Billing: Admin-only",
            SeedRule::SsoScim => "SSO/SCIM: Admin-only",
            SeedRule::OrgSettings => "Billing, SSO, SCIM, and user administration: controlled",
            SeedRule::IntegrationConfiguration => {
                "Integration configuration: Admin-only or integration-admin-only"
            }
        }
    }
}

/// How tight an access mode is: `open` < `service_controlled` < `restricted`.
pub const fn tightness(mode: AccessMode) -> u8 {
    match mode {
        AccessMode::Open => 0,
        AccessMode::ServiceControlled => 1,
        AccessMode::Restricted => 2,
    }
}

impl Resource {
    /// The access mode that holds: the one written, else the seed default.
    pub fn effective_access_mode(&self) -> AccessMode {
        self.access_mode.unwrap_or_else(|| {
            SeedRule::of_resource(self).map_or(AccessMode::Open, SeedRule::access_mode)
        })
    }

    /// The seed rule this resource's explicit `access_mode` weakens, if any.
    pub fn weakened_rule(&self) -> Option<SeedRule> {
        let written = self.access_mode?;
        SeedRule::of_resource(self)
            .filter(|rule| tightness(written) < tightness(rule.access_mode()))
    }
}

/// One acknowledged weakening: a resource whose explicit access mode is
/// weaker than its seed default, and the reason its document gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weakened {
    pub org: String,
    pub resource: String,
    pub kind: String,
    pub access_mode: AccessMode,
    pub rule: SeedRule,
    pub reason: String,
}

impl Weakened {
    /// Every acknowledged weakening of a (valid) document, in document order.
    pub fn all(document: &Document) -> Vec<Weakened> {
        let mut out = Vec::new();
        for org in &document.orgs {
            for resource in &org.resources {
                if let (Some(rule), Some(mode), Some(reason)) = (
                    resource.weakened_rule(),
                    resource.access_mode,
                    &resource.weaker_access_reason,
                ) {
                    out.push(Weakened {
                        org: org.id.clone(),
                        resource: resource.id.clone(),
                        kind: resource.kind.clone(),
                        access_mode: mode,
                        rule,
                        reason: reason.clone(),
                    });
                }
            }
        }
        out
    }
}

impl fmt::Display for Weakened {
    /// `acme/stripe-key (secret): access_mode open, seed default restricted (Secrets: Restricted): "why"`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ({}): access_mode {}, seed default {} ({}): {:?}",
            self.org,
            self.resource,
            self.kind,
            self.access_mode,
            self.rule.access_mode(),
            self.rule.row(),
            self.reason
        )
    }
}
