//! "Did you mean …?": the known name nearest to a misspelt one.

/// The known name closest to `text` by edit distance, when it is close
/// enough to be a slip (at most a third of its length, and 2 at least).
pub fn nearest<'a>(text: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (text.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|k| (distance(text, k), k))
        .filter(|(d, k)| *d <= limit && *k != text)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// ` (did you mean `near`?)`, or nothing.
pub fn hint<'a>(text: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(text, known).map_or(String::new(), |near| format!(" (did you mean `{near}`?)"))
}

/// A serde message about an unknown field or variant
/// (``unknown field `X`, expected one of `a`, `b` ``, ``… expected `a` or `b` ``),
/// with the nearest expected name added.
pub fn serde_message(message: &str) -> String {
    let unknown = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| message.find(p).map(|at| at + p.len()));
    let Some(start) = unknown else {
        return message.to_owned();
    };
    let Some(len) = message[start..].find('`') else {
        return message.to_owned();
    };
    let name = &message[start..start + len];
    let rest = &message[start + len..];
    let Some(expected_at) = rest.find("expected") else {
        return message.to_owned();
    };
    // The expected names: every backquoted word after `expected`.
    let expected: Vec<&str> = rest[expected_at..].split('`').skip(1).step_by(2).collect();
    match nearest(name, expected) {
        Some(near) => format!("{message} (did you mean `{near}`?)"),
        None => message.to_owned(),
    }
}

/// Levenshtein distance, with a transposition counting as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{nearest, serde_message};

    #[test]
    fn a_slip_finds_its_name_and_nonsense_finds_none() {
        let known = ["view", "use", "run", "edit", "administer", "manage_access"];
        assert_eq!(nearest("edti", known), Some("edit"));
        assert_eq!(nearest("adminster", known), Some("administer"));
        assert_eq!(nearest("manage_acess", known), Some("manage_access"));
        assert_eq!(nearest("xyzzy-plugh", known), None);
    }

    #[test]
    fn serde_messages_get_the_nearest_expected_name() {
        assert_eq!(
            serde_message(
                "routes[0]: unknown field `methds`, expected one of `id`, `methods`, `path` at line 3 column 5"
            ),
            "routes[0]: unknown field `methds`, expected one of `id`, `methods`, `path` at line 3 column 5 (did you mean `methods`?)"
        );
        assert_eq!(
            serde_message("unknown variant `jtw`, expected `jwt` or `trusted_header`"),
            "unknown variant `jtw`, expected `jwt` or `trusted_header` (did you mean `jwt`?)"
        );
        assert_eq!(
            serde_message("unknown field `zzzzzz`, expected `a`"),
            "unknown field `zzzzzz`, expected `a`"
        );
        assert_eq!(serde_message("invalid type: map"), "invalid type: map");
    }
}
