//! A small, strict parser of the Prometheus text exposition format (0.0.4),
//! enough to check that `/metrics` parses and to read counters by label.
//!
//! Strict: metric and label names must be valid, label values properly
//! quoted and escaped, every value a float, `# TYPE` given at most once per
//! family and before its samples, and no sample repeated with the same labels.

use std::collections::{BTreeMap, HashMap, HashSet};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    /// Family name → declared type.
    pub types: HashMap<String, String>,
}

/// Why an exposition did not parse.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}: `{text}`")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
    pub text: String,
}

impl Exposition {
    pub fn parse(text: &str) -> Result<Exposition, ParseError> {
        let mut out = Exposition::default();
        let mut seen: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
        let mut families_with_samples: HashSet<String> = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: &str| ParseError {
                line: i + 1,
                message: message.to_owned(),
                text: line.to_owned(),
            };
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('#') {
                let mut words = rest.trim_start().splitn(3, ' ');
                match words.next() {
                    Some("TYPE") => {
                        let name = words.next().ok_or_else(|| err("TYPE without a name"))?;
                        let kind = words.next().ok_or_else(|| err("TYPE without a type"))?;
                        if !valid_metric_name(name) {
                            return Err(err("invalid metric name"));
                        }
                        if !matches!(
                            kind,
                            "counter" | "gauge" | "histogram" | "summary" | "untyped"
                        ) {
                            return Err(err("unknown type"));
                        }
                        if families_with_samples.contains(name) {
                            return Err(err("TYPE after samples of its family"));
                        }
                        if out.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                            return Err(err("TYPE given twice"));
                        }
                    }
                    Some("HELP") => {
                        let name = words.next().ok_or_else(|| err("HELP without a name"))?;
                        if !valid_metric_name(name) {
                            return Err(err("invalid metric name"));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let sample = parse_sample(line).map_err(|m| err(&m))?;
            families_with_samples.insert(family_of(&sample.name, &out.types).to_owned());
            if !seen.insert((sample.name.clone(), sample.labels.clone())) {
                return Err(err("sample repeated with the same labels"));
            }
            out.samples.push(sample);
        }
        Ok(out)
    }

    /// Samples named `name` whose labels include every `(key, value)` of `filter`.
    pub fn select<'a>(
        &'a self,
        name: &'a str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| {
            s.name == name
                && filter
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
    }

    /// The sum of the matching samples (0 when none match).
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.select(name, filter).map(|s| s.value).sum()
    }

    /// Whether any sample is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// Sample names that start with `prefix`, deduplicated and sorted.
    pub fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .samples
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err("invalid metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = parse_labels(after)?;
        labels = parsed;
        rest = remaining;
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected a space before the value")?;
    let mut fields = rest.split(' ');
    let value = fields
        .next()
        .and_then(parse_value)
        .ok_or("the value is not a float")?;
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err("the timestamp is not an integer".into());
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `k="v",…}` and returns the labels and what follows the `}`.
fn parse_labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = text.find('=').ok_or("a label needs `=`")?;
        let key = &text[..eq];
        if !valid_label_name(key) {
            return Err(format!("invalid label name `{key}`"));
        }
        let mut chars = text[eq + 1..].char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err("a label value must be quoted".into());
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    _ => return Err("bad escape in a label value".into()),
                },
                '"' => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                '\n' => return Err("newline in a label value".into()),
                c => value.push(c),
            }
        }
        let end = end.ok_or("unterminated label value")?;
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label `{key}` repeated"));
        }
        text = &text[end..];
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_histograms_and_escapes() {
        let text = "# HELP a_total An a.\n# TYPE a_total counter\na_total{route=\"r\\\"1\",code=\"x\"} 3\n\
                    # TYPE h_seconds histogram\nh_seconds_bucket{le=\"0.5\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\n\
                    h_seconds_sum 0.7\nh_seconds_count 2\nplain 1e-3 1700000000\n";
        let e = Exposition::parse(text).unwrap();
        assert_eq!(e.sum("a_total", &[("route", "r\"1")]), 3.0);
        assert_eq!(e.sum("h_seconds_bucket", &[]), 3.0);
        assert_eq!(e.sum("plain", &[]), 0.001);
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "a{b=\"c} 1",
            "a{b=c} 1",
            "1a 1",
            "a one",
            "a{b=\"c\",b=\"d\"} 1",
            "a 1\na 2",
            "# TYPE a counter\n# TYPE a counter",
            "a 1\n# TYPE a counter",
            "a{9=\"x\"} 1",
            "a 1 2 3",
        ] {
            assert!(Exposition::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
