//! The route config's JSON Schema: committed, current, strict about unknown
//! fields, and complete for the examples (an editor checking
//! `examples/gateway.yaml` against it finds no field it does not know).

use std::path::PathBuf;

use reqflo_config::raw::RawConfig;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed schema must equal the generated one. To update it after
/// changing the config types:
/// `REQFLO_BLESS=1 cargo test -p reqflo-config --test schema`.
#[test]
fn the_committed_json_schema_is_current() {
    let path = root().join("config/gateway.schema.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&RawConfig::json_schema()).unwrap()
    );
    if std::env::var_os("REQFLO_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "config/gateway.schema.json is out of date with the config types; regenerate it with \
         `REQFLO_BLESS=1 cargo test -p reqflo-config --test schema` and commit it"
    );
}

/// Follows `$ref` into `$defs`.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => resolve(schema, &schema["$defs"][name]),
        None => node,
    }
}

/// The object schemas `node` may be (through `anyOf`/`oneOf`, `$ref`).
fn objects<'a>(schema: &'a Value, node: &'a Value, out: &mut Vec<&'a Value>) {
    let node = resolve(schema, node);
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = node[key].as_array() {
            for o in options {
                objects(schema, o, out);
            }
        }
    }
    if node["properties"].is_object() || node["additionalProperties"].is_object() {
        out.push(node);
    }
}

/// Every key of every mapping in `value` is a property of one of the object
/// schemas it may be; returns the paths of those that are not.
fn unknown_keys(
    schema: &Value,
    node: &Value,
    value: &serde_yaml_ng::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    let node = resolve(schema, node);
    match value {
        serde_yaml_ng::Value::Mapping(map) => {
            let mut candidates = Vec::new();
            objects(schema, node, &mut candidates);
            if candidates.is_empty() {
                return;
            }
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                let found = candidates.iter().find_map(|c| {
                    c["properties"].get(key).or_else(|| {
                        c["additionalProperties"]
                            .as_object()
                            .map(|_| &c["additionalProperties"])
                    })
                });
                match found {
                    Some(child) => unknown_keys(schema, child, v, &format!("{at}.{key}"), out),
                    None => out.push(format!("{at}.{key}")),
                }
            }
        }
        serde_yaml_ng::Value::Sequence(items) => {
            let mut item_schemas = vec![&node["items"]];
            for key in ["anyOf", "oneOf"] {
                if let Some(options) = node[key].as_array() {
                    item_schemas.extend(options.iter().map(|o| &resolve(schema, o)["items"]));
                }
            }
            for (i, item) in items.iter().enumerate() {
                for s in &item_schemas {
                    if !s.is_null() {
                        unknown_keys(schema, s, item, &format!("{at}[{i}]"), out);
                    }
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_is_strict_described_and_knows_every_field_of_the_examples() {
    let schema = RawConfig::json_schema();
    assert_eq!(schema["additionalProperties"], false);
    assert!(
        schema["properties"]["routes"]["description"].is_string()
            || schema["properties"]["routes"].is_object()
    );
    let route = &schema["$defs"]["RawRoute"];
    assert_eq!(route["additionalProperties"], false);
    assert!(
        route["properties"]["environment_required"]["description"].is_string(),
        "{route}"
    );
    for file in ["examples/gateway.yaml", "tests/fixtures/gateway.yaml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let mut unknown = Vec::new();
        unknown_keys(&schema, &schema, &value, "", &mut unknown);
        assert!(
            unknown.is_empty(),
            "{file}: fields the schema does not know: {unknown:?}"
        );
        // A misspelt field is one it does not know.
        let bad: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text.replacen("upstreams:", "upstream:", 1)).unwrap();
        let mut unknown = Vec::new();
        unknown_keys(&schema, &schema, &bad, "", &mut unknown);
        assert_eq!(unknown, [".upstream"], "{file}");
    }
}

/// The examples point editors at the schema.
#[test]
fn the_examples_name_the_schema_for_editors() {
    let text = std::fs::read_to_string(root().join("examples/gateway.yaml")).unwrap();
    assert!(
        text.starts_with("# yaml-language-server: $schema=../config/gateway.schema.json\n"),
        "{}",
        text.lines().next().unwrap_or_default()
    );
    assert!(root().join("config/gateway.schema.json").is_file());
}
