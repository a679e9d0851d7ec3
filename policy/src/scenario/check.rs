//! Checking a scenario's coherence, and comparing decisions with expectations.

use std::fmt;

use crate::decision::{Decision, Request};

use super::Fault;
use super::format::{Scenario, ScenarioRequest, Verdict};

/// The result of one request: passed when `differences` is empty.
#[derive(Debug)]
pub struct Outcome<'s> {
    pub name: &'s str,
    pub differences: Vec<Difference>,
}

impl Outcome<'_> {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// One expectation the decision did not meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// `decision`, `code`, `reasons`, `message` or `allowed_by`.
    pub field: &'static str,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.field, self.expected, self.actual
        )
    }
}

impl Scenario {
    /// Decides every request with `decide` and compares with its expectation.
    pub fn check(&self, mut decide: impl FnMut(&Request<'_>) -> Decision) -> Vec<Outcome<'_>> {
        self.requests
            .iter()
            .map(|request| {
                let org = request
                    .org
                    .as_deref()
                    .or(self.org.as_deref())
                    .unwrap_or_default();
                let asked = Request {
                    org,
                    user: &request.user,
                    action: request.action.as_str().into(),
                    resource: &request.resource,
                    environment: request.environment.as_deref(),
                };
                Outcome {
                    name: &request.name,
                    differences: differences(request, &decide(&asked)),
                }
            })
            .collect()
    }
}

fn differences(request: &ScenarioRequest, decision: &Decision) -> Vec<Difference> {
    let expect = &request.expect;
    let mut found = Vec::new();
    let mut differ = |field, expected: String, actual: String| {
        if expected != actual {
            found.push(Difference {
                field,
                expected,
                actual,
            });
        }
    };
    let actual_verdict = Verdict::of(decision.allowed);
    if expect.decision != actual_verdict {
        let actual = match decision.code() {
            Some(code) => format!("deny ({code}: {})", decision.headline),
            None => format!("allow ({})", decision.message()),
        };
        differ("decision", expect.decision.as_str().to_owned(), actual);
    }
    if let Some(code) = expect.code {
        let actual = decision
            .code()
            .map_or_else(|| "no reason".to_owned(), |c| c.to_string());
        differ("code", code.0.to_string(), actual);
    }
    if let Some(reasons) = &expect.reasons {
        let expected = reasons
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let actual = decision
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        differ("reasons", format!("[{expected}]"), format!("[{actual}]"));
    }
    if let Some(message) = &expect.message {
        differ(
            "message",
            format!("{message:?}"),
            format!("{:?}", decision.message()),
        );
    }
    if let Some(allowed_by) = &expect.allowed_by {
        let expected = serde_json::to_value(allowed_by)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let actual = match &decision.allowed_by {
            Some(by) => serde_json::to_value(by)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            None => "nothing".to_owned(),
        };
        differ("allowed_by", expected, actual);
    }
    if let Some(remedy) = &expect.remedy {
        let expected = serde_json::Value::Array(remedy.clone()).to_string();
        let actual = match decision.reasons.first() {
            Some(r) => serde_json::to_value(&r.remedy)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            None => "nothing".to_owned(),
        };
        differ("remedy", expected, actual);
    }
    found
}

/// Everything incoherent in a scenario, each naming the request.
pub(super) fn faults(scenario: &Scenario) -> Vec<Fault> {
    let mut faults = Vec::new();
    if scenario.requests.is_empty() {
        faults.push(Fault {
            path: "requests".to_owned(),
            message: "a scenario needs at least one request".to_owned(),
        });
    }
    for (index, request) in scenario.requests.iter().enumerate() {
        let path = format!("requests[{index}] (`{}`)", request.name);
        let mut fault = |message: &str| {
            faults.push(Fault {
                path: path.clone(),
                message: message.to_owned(),
            })
        };
        if scenario.requests[..index]
            .iter()
            .any(|r| r.name == request.name)
        {
            fault("the name is used by an earlier request");
        }
        if request.org.is_none() && scenario.org.is_none() {
            fault("no `org`, and the scenario sets no default `org`");
        }
        let expect = &request.expect;
        match expect.decision {
            Verdict::Allow
                if expect.code.is_some()
                    || expect.reasons.as_ref().is_some_and(|r| !r.is_empty()) =>
            {
                fault("an allowed request has no reason codes");
            }
            Verdict::Allow if expect.remedy.is_some() => {
                fault("an allowed request has no `remedy`");
            }
            Verdict::Deny if expect.allowed_by.is_some() => {
                fault("a denied request has no `allowed_by`")
            }
            Verdict::Deny if expect.reasons.as_ref().is_some_and(|r| r.is_empty()) => {
                fault("a denied request has at least one reason");
            }
            _ => {}
        }
        if let (Some(code), Some(first)) =
            (expect.code, expect.reasons.as_ref().and_then(|r| r.first()))
            && code != *first
        {
            fault("`code` is not the first of `reasons`");
        }
    }
    faults
}
