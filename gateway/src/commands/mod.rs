//! One module per subcommand.

pub mod access;
pub mod decide;
pub mod demo;
pub mod routes;
pub mod serve;
pub mod test;
pub mod validate;

/// The known name closest to `text` by edit distance, when it is close
/// enough to be a slip (at most a third of its length, and 2 at least).
pub(crate) fn nearest<'a>(text: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (text.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (distance(text, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
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
    use super::nearest;

    #[test]
    fn a_slip_finds_its_name_and_nonsense_finds_none() {
        let known = ["view", "use", "run", "edit", "administer", "manage_access"];
        assert_eq!(nearest("edti", &known), Some("edit"));
        assert_eq!(nearest("adminster", &known), Some("administer"));
        assert_eq!(nearest("manage_acess", &known), Some("manage_access"));
        assert_eq!(nearest("xyzzy-plugh", &known), None);
    }
}
