//! The router: a random route table (templates over a small alphabet, so
//! routes share prefixes and parameters often) against a brute-force
//! matcher over the same templates, on random canonical paths. The two agree
//! on the matched route and on every parameter; a parameter is one whole
//! segment, never empty and never holding `/`. Tables the config refuses
//! (overlapping templates) are skipped: the overlap check is what makes the
//! match unique, so a table it accepts must never match a path twice.

use std::fmt::Write;
use std::path::Path;

use reqflo_config::{Memory, load_from};

const SEGMENTS: &[&str] = &["a", "b", "orgs", "runs", "{x}", "{y}", "{z}"];
const PATH_SEGMENTS: &[&str] = &["a", "b", "orgs", "runs", "zz", "x", "0", "%7B", "a.b"];
const METHODS: &[&str] = &["GET", "POST"];

struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    fn below(&mut self, n: usize) -> usize {
        self.0.next().map_or(0, |b| usize::from(*b) % n.max(1))
    }
}

fn template(b: &mut Bytes<'_>) -> Vec<&'static str> {
    let mut used: Vec<&str> = Vec::new();
    (0..1 + b.below(4))
        .map(|_| {
            let mut s = SEGMENTS[b.below(SEGMENTS.len())];
            if s.starts_with('{') && used.contains(&s) {
                s = "a";
            }
            used.push(s);
            s
        })
        .collect()
}

/// The brute-force match: same number of segments, each literal equal or a
/// parameter taking the whole (non-empty) segment.
fn matches<'p>(template: &[&str], path: &'p str) -> Option<Vec<(String, &'p str)>> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.len() != template.len() {
        return None;
    }
    let mut params = Vec::new();
    for (t, s) in template.iter().zip(&segments) {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if s.is_empty() {
                return None;
            }
            params.push((name.to_owned(), *s));
        } else if t != s {
            return None;
        }
    }
    Some(params)
}

pub fn check(data: &[u8]) {
    let b = &mut Bytes(data.iter());
    let routes: Vec<(String, Vec<&str>)> = (0..1 + b.below(6))
        .map(|_| (METHODS[b.below(2)].to_owned(), template(b)))
        .collect();
    let mut config = String::from(
        "listen: { proxy: 127.0.0.1:0, admin: 127.0.0.1:0 }\npolicy: policy.yaml\n\
         upstreams: { up: { address: 127.0.0.1:9 } }\n\
         identity: { trusted_header: { header: x-user, trusted_sources: [127.0.0.1] } }\nroutes:\n",
    );
    for (i, (method, segments)) in routes.iter().enumerate() {
        let _ = writeln!(
            config,
            "  - {{ id: r{i}, methods: [{method}], path: \"/{}\", public: true, upstream: up }}",
            segments.join("/")
        );
    }
    let source = Memory::new()
        .with("/fuzz/gateway.yaml", config.clone())
        .with("/fuzz/policy.yaml", "orgs: [{ id: acme }]\n");
    let Ok(snapshot) = load_from(&source, Path::new("/fuzz/gateway.yaml")) else {
        return;
    };
    for _ in 0..8 {
        let path: String = (0..1 + b.below(4))
            .map(|_| format!("/{}", PATH_SEGMENTS[b.below(PATH_SEGMENTS.len())]))
            .collect();
        for method in METHODS {
            let expected: Vec<(usize, Vec<(String, &str)>)> = routes
                .iter()
                .enumerate()
                .filter(|(_, (m, _))| m == method)
                .filter_map(|(i, (_, t))| matches(t, &path).map(|p| (i, p)))
                .collect();
            assert!(
                expected.len() <= 1,
                "the config accepted overlapping routes {expected:?} for {method} {path}:\n{config}"
            );
            let found = snapshot.routes.lookup(method, &path);
            match (expected.first(), found) {
                (None, None) => {}
                (Some((i, params)), Some(found)) => {
                    assert_eq!(
                        &*found.route.id,
                        format!("r{i}"),
                        "{method} {path}:\n{config}"
                    );
                    let got: Vec<(String, &str)> =
                        found.params().map(|(k, v)| (k.to_owned(), v)).collect();
                    assert_eq!(&got, params, "{method} {path}:\n{config}");
                    assert!(got.iter().all(|(_, v)| !v.is_empty() && !v.contains('/')));
                }
                (expected, found) => panic!(
                    "{method} {path}: brute force {expected:?}, router {:?}:\n{config}",
                    found.map(|f| f.route.id.to_string())
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated configs are real ones: plain bytes give a table that
    /// loads and routes, so the check is not vacuous.
    #[test]
    fn a_generated_table_loads_and_routes() {
        let config = "listen: { proxy: 127.0.0.1:0, admin: 127.0.0.1:0 }\npolicy: policy.yaml\n\
             upstreams: { up: { address: 127.0.0.1:9 } }\n\
             identity: { trusted_header: { header: x-user, trusted_sources: [127.0.0.1] } }\nroutes:\n  - { id: r0, methods: [GET], path: \"/a/{x}\", public: true, upstream: up }\n";
        let source = Memory::new()
            .with("/fuzz/gateway.yaml", config)
            .with("/fuzz/policy.yaml", "orgs: [{ id: acme }]\n");
        let snapshot =
            load_from(&source, Path::new("/fuzz/gateway.yaml")).unwrap_or_else(|e| panic!("{e:?}"));
        let found = snapshot
            .routes
            .lookup("GET", "/a/b")
            .map(|m| m.route.id.to_string());
        assert_eq!(found.as_deref(), Some("r0"));
        // And the check itself runs over such tables: one route `GET /a`, paths `/a`.
        check(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
}
