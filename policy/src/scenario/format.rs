//! The scenario file as written: raw types that reject unknown fields.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::decision::ReasonCode;
use crate::document::Document;
use crate::model::{OrgRole, ResourceRole, ServiceRole};

/// A scenario file: a small world, then requests with what they must decide.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario is about; for people only.
    #[serde(default)]
    pub description: Option<String>,
    /// The world: an inline policy document, or the path of one.
    pub policy: PolicySource,
    /// The org of every request that names none.
    #[serde(default)]
    pub org: Option<String>,
    pub requests: Vec<ScenarioRequest>,
}

/// Where the scenario's policy document comes from.
#[derive(Debug)]
pub enum PolicySource {
    /// Written in the scenario file under `policy:`.
    Inline(Box<Document>),
    /// `policy: <path>`: resolved by the caller, relative to the scenario file.
    File(String),
}

impl<'de> Deserialize<'de> for PolicySource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;

        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = PolicySource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a policy document or the path of one")
            }

            fn visit_str<E: de::Error>(self, path: &str) -> Result<PolicySource, E> {
                Ok(PolicySource::File(path.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PolicySource, A::Error> {
                let document = Document::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PolicySource::Inline(Box::new(document)))
            }
        }

        deserializer.deserialize_any(SourceVisitor)
    }
}

/// One request and its expected decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    /// Unique within the file; names the request in failure reports.
    pub name: String,
    /// Defaults to the scenario's `org`.
    #[serde(default)]
    pub org: Option<String>,
    pub user: String,
    pub action: String,
    pub resource: String,
    #[serde(default)]
    pub environment: Option<String>,
    pub expect: Expect,
}

/// What the decision must be; every field but `decision` is checked only when given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub decision: Verdict,
    /// The headline reason code.
    #[serde(default)]
    pub code: Option<ExpectedCode>,
    /// Every reason code, in order.
    #[serde(default)]
    pub reasons: Option<Vec<ExpectedCode>>,
    /// The exact one-sentence message: the deny headline, or "Allowed by …".
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub allowed_by: Option<ExpectedAllowedBy>,
    /// The headline reason's remedy, shaped like the decision's JSON:
    /// `[{ service_role: runner, service: checkout }, { grant: run }]`.
    #[serde(default)]
    pub remedy: Option<Vec<serde_json::Value>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn of(allowed: bool) -> Verdict {
        if allowed {
            Verdict::Allow
        } else {
            Verdict::Deny
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// A reason code as written, checked against the known codes when read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedCode(pub ReasonCode);

impl<'de> Deserialize<'de> for ExpectedCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ReasonCode::parse(&text)
            .map(ExpectedCode)
            .ok_or_else(|| de::Error::custom(format!("unknown reason code `{text}`")))
    }
}

/// `allowed_by` as written: the same shape as the decision's JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExpectedAllowedBy {
    OrgRole {
        role: OrgRole,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via_group: Option<String>,
    },
    Default {
        role: OrgRole,
    },
    Visibility,
    ServiceRole {
        service: String,
        role: ServiceRole,
    },
    ResourceRole {
        role: ResourceRole,
    },
    Grant {
        id: String,
    },
}
