//! Scenario mixes: weighted request templates read from a YAML file.
//!
//! ```yaml
//! name: runs-90-10
//! requests:
//!   - name: allowed-run
//!     weight: 90
//!     method: POST
//!     path: /v1/journeys/checkout/runs?env=staging
//!     headers: { content-type: application/json }
//!     body: '{"environment":"staging"}'
//!     token: $ALICE_TOKEN       # `Authorization: Bearer …`; `$NAME` reads the environment
//!     expect: [200]             # statuses that count as success (default: any 2xx)
//! ```

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

#[cfg(test)]
mod tests;

/// A mix file as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub requests: Vec<TemplateFile>,
}

/// One request template as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    pub name: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<u16>,
}

fn default_weight() -> u32 {
    1
}

fn default_method() -> String {
    "GET".to_owned()
}

/// Why a mix could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    #[error("mix is not valid YAML: {0}")]
    Parse(String),
    #[error("mix has no request with a weight above zero")]
    Empty,
    #[error("template `{template}`: invalid method `{method}`")]
    Method { template: String, method: String },
    #[error("template `{template}`: path `{path}` must start with `/`")]
    Path { template: String, path: String },
    #[error("template `{template}`: invalid header `{header}`")]
    Header { template: String, header: String },
    #[error("template `{template}`: environment variable `{var}` is not set")]
    MissingVar { template: String, var: String },
}

/// A compiled request template, ready to send.
#[derive(Clone, Debug)]
pub struct Template {
    pub name: String,
    pub weight: u32,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub expect: Vec<u16>,
}

impl Template {
    /// Whether `status` counts as success for this template.
    pub fn is_expected(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect.contains(&status)
        }
    }
}

/// Weighted templates and a picker over them.
#[derive(Clone, Debug)]
pub struct Mix {
    pub name: String,
    pub templates: Vec<Template>,
    /// Running totals of the weights, one per template.
    cumulative: Vec<u64>,
}

impl Mix {
    /// Parses YAML; `$NAME` tokens are looked up with `env`.
    pub fn from_yaml(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, MixError> {
        let file: MixFile =
            serde_yaml_ng::from_str(text).map_err(|e| MixError::Parse(e.to_string()))?;
        Self::compile(&file, env)
    }

    /// Compiles a mix already in memory.
    pub fn compile(file: &MixFile, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, MixError> {
        let mut templates = Vec::new();
        for t in file.requests.iter().filter(|t| t.weight > 0) {
            templates.push(compile_template(t, env)?);
        }
        if templates.is_empty() {
            return Err(MixError::Empty);
        }
        let mut total = 0u64;
        let cumulative = templates
            .iter()
            .map(|t| {
                total += u64::from(t.weight);
                total
            })
            .collect();
        Ok(Mix {
            name: file.name.clone().unwrap_or_else(|| "mix".to_owned()),
            templates,
            cumulative,
        })
    }

    /// Sum of all weights.
    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Index of a template, chosen in proportion to the weights.
    pub fn pick(&self, rng: &mut Rng) -> usize {
        if self.templates.len() == 1 {
            return 0;
        }
        let x = rng.below(self.total_weight());
        self.cumulative.partition_point(|&c| c <= x)
    }
}

fn compile_template(
    t: &TemplateFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Template, MixError> {
    let method = Method::from_bytes(t.method.as_bytes()).map_err(|_| MixError::Method {
        template: t.name.clone(),
        method: t.method.clone(),
    })?;
    if !t.path.starts_with('/') {
        return Err(MixError::Path {
            template: t.name.clone(),
            path: t.path.clone(),
        });
    }
    let mut headers = Vec::new();
    for (k, v) in &t.headers {
        headers.push(header(&t.name, k, v)?);
    }
    if let Some(token) = &t.token {
        let token = match token.strip_prefix('$') {
            Some(var) => env(var).ok_or_else(|| MixError::MissingVar {
                template: t.name.clone(),
                var: var.to_owned(),
            })?,
            None => token.clone(),
        };
        headers.push(header(
            &t.name,
            "authorization",
            &format!("Bearer {token}"),
        )?);
    }
    Ok(Template {
        name: t.name.clone(),
        weight: t.weight,
        method,
        path: t.path.clone(),
        headers,
        body: Bytes::from(t.body.clone().unwrap_or_default()),
        expect: t.expect.clone(),
    })
}

fn header(template: &str, k: &str, v: &str) -> Result<(HeaderName, HeaderValue), MixError> {
    let bad = || MixError::Header {
        template: template.to_owned(),
        header: k.to_owned(),
    };
    let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(v).map_err(|_| bad())?;
    Ok((name, value))
}
