//! Finding lines in YAML/JSON text after parsing, by a cheap scan.
//!
//! serde_yaml_ng gives positions for syntax errors but not for values that
//! parsed fine, so semantic errors are located by scanning the text: a route
//! by its `id: <route id>` line (after the `routes:` key), a setting by its
//! `key:` line. This finds the right line for every conventionally written
//! file (one key per line, block style); for flow style or one-line JSON it
//! finds the line of the first match, or nothing, and the error is still
//! reported, only without a line.

/// The value of `key` if the line holds `key: value`, in block style
/// (`key: value`, `- key: value`) or flow style (`{ a: 1, key: value }`,
/// `"key": "value",`). Unquoted values end at `,`, `}`, `]` or ` #`.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let bytes = line.as_bytes();
    for (at, _) in line.match_indices(key) {
        let mut start = at;
        let mut end = at + key.len();
        let quoted = start > 0
            && matches!(bytes[start - 1], b'"' | b'\'')
            && bytes.get(end) == Some(&bytes[start - 1]);
        if quoted {
            start -= 1;
            end += 1;
        }
        let boundary = start == 0 || matches!(bytes[start - 1], b' ' | b'\t' | b'{' | b',');
        let Some(rest) = line[end..].trim_start().strip_prefix(':') else {
            continue;
        };
        if !boundary
            || !line[..start]
                .trim_start_matches([' ', '\t', '-', '{', '['])
                .is_empty()
                && !flow_context(&line[..start])
        {
            continue;
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or_default(),
            _ => {
                let cut = rest.find([',', '}', ']']).unwrap_or(rest.len());
                let cut = rest.find(" #").map_or(cut, |c| c.min(cut));
                rest[..cut].trim_end()
            }
        };
        return Some(value);
    }
    None
}

/// Whether the text before a key puts it inside a flow mapping (`{ a: 1, `).
fn flow_context(before: &str) -> bool {
    before.contains('{') && before.trim_end().ends_with([',', '{'])
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Line of the first `key:` at any depth.
pub(crate) fn key_line(text: &str, key: &str) -> Option<u32> {
    text.lines()
        .position(|l| value_of(l, key).is_some())
        .map(line_number)
}

/// Line of the first `key:` from the first `section:` line on (the section
/// line itself counts: `listen: { proxy: … }`).
pub(crate) fn key_line_in(text: &str, section: &str, key: &str) -> Option<u32> {
    let start = text.lines().position(|l| value_of(l, section).is_some())?;
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| value_of(l, key).is_some())
        .map(|(i, _)| line_number(i))
}

/// Line of the first `key: value` line with this value.
pub(crate) fn value_line(text: &str, key: &str, value: &str) -> Option<u32> {
    text.lines()
        .position(|l| value_of(l, key) == Some(value))
        .map(line_number)
}

/// Line of the `nth` (0-based) `id: <id>` after the first `section:` line
/// (or anywhere when `section` is empty).
pub(crate) fn id_line_in(text: &str, section: &str, id: &str, nth: usize) -> Option<u32> {
    let start = if section.is_empty() {
        0
    } else {
        text.lines().position(|l| value_of(l, section).is_some())?
    };
    text.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| value_of(l, "id") == Some(id))
        .nth(nth)
        .map(|(i, _)| line_number(i))
}

/// A line for a policy validation path such as
/// `orgs[acme].resources[refund].depends_on[1]`: the `id:` line of the
/// innermost object named by id, or nothing.
pub(crate) fn policy_path_line(text: &str, path: &str) -> Option<u32> {
    let ids: Vec<&str> = path
        .split('[')
        .skip(1)
        .filter_map(|part| part.split_once(']').map(|(id, _)| id))
        .filter(|id| !id.is_empty() && !id.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    // Walk down: each id is searched after the line of its parent.
    let mut from = 0usize;
    let mut found = None;
    for id in ids {
        let hit = text
            .lines()
            .enumerate()
            .skip(from)
            .find(|(_, l)| value_of(l, "id") == Some(id))
            .map(|(i, _)| i)?;
        from = hit + 1;
        found = Some(line_number(hit));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "listen:\n  proxy: 1.2.3.4:80\nroutes:\n  - id: a\n    path: /x\n  - id: \"b\"  # note\n";

    #[test]
    fn finds_routes_and_keys() {
        assert_eq!(id_line_in(TEXT, "routes", "a", 0), Some(4));
        assert_eq!(id_line_in(TEXT, "routes", "b", 0), Some(6));
        assert_eq!(id_line_in(TEXT, "routes", "c", 0), None);
        assert_eq!(key_line(TEXT, "proxy"), Some(2));
        assert_eq!(key_line_in(TEXT, "routes", "path"), Some(5));
    }

    #[test]
    fn reads_flow_style() {
        let text = "listen: { proxy: \"1.2.3.4:80\", admin: x }\nroutes:\n  - { id: a, path: \"/x/{y}\" }\n";
        assert_eq!(key_line_in(text, "listen", "admin"), Some(1));
        assert_eq!(id_line_in(text, "routes", "a", 0), Some(3));
        assert_eq!(value_of("  - { id: a, path: x }", "id"), Some("a"));
        assert_eq!(value_of("  - { kid: k1, algorithm: RS256 }", "id"), None);
        assert_eq!(value_of("    user_id: 3", "id"), None);
    }

    #[test]
    fn finds_json_lines() {
        let json = "{\n  \"routes\": [\n    {\"id\": \"a\",\n     \"path\": \"/x\"}\n  ]\n}";
        assert_eq!(id_line_in(json, "routes", "a", 0), Some(3));
    }

    #[test]
    fn finds_policy_paths() {
        let text = "orgs:\n  - id: acme\n    resources:\n      - id: x\n      - id: refund\n";
        assert_eq!(
            policy_path_line(text, "orgs[acme].resources[refund].depends_on[1]"),
            Some(5)
        );
        assert_eq!(policy_path_line(text, "orgs[zzz]"), None);
    }
}
