//! A small reference model of the canonicalizer under the default rules,
//! written from the documented rules (the `canon::Rejection` list and the
//! pipeline's step 1 in `gateway/README.md`) rather than from its code:
//! split the target once at the first `?`, split the path at `/`, decode
//! every piece once, refuse per the rules, then write the canonical form.

/// A canonical form: the decoded path, the decoded query pairs, the target.
pub type Form = (String, Vec<(String, String)>, String);

/// The canonical form of `raw`, or `None` when the rules refuse it.
pub fn canonical(raw: &[u8]) -> Option<Form> {
    std::str::from_utf8(raw).ok()?;
    let (path, query) = match raw.iter().position(|b| *b == b'?') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let rest = path.strip_prefix(b"/")?;
    let mut decoded_path = String::new();
    let mut target = String::new();
    if rest.is_empty() {
        decoded_path.push('/');
        target.push('/');
    } else {
        for piece in rest.split(|b| *b == b'/') {
            if piece.is_empty() {
                return None;
            }
            let segment = decode(piece, true)?;
            if segment == "." || segment == ".." {
                return None;
            }
            decoded_path.push('/');
            decoded_path.push_str(&segment);
            target.push('/');
            target.push_str(&encode(&segment, true));
        }
    }
    let mut pairs = Vec::new();
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        for pair in query.split(|b| *b == b'&') {
            if pair.is_empty() {
                return None;
            }
            let (key, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let (key, value) = (decode(key, false)?, decode(value, false)?);
            if key.is_empty() || key.eq_ignore_ascii_case("_method") {
                return None;
            }
            pairs.push((key, value));
        }
        let written: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
            .collect();
        target.push('?');
        target.push_str(&written.join("&"));
    }
    Some((decoded_path, pairs, target))
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Decodes one piece once; `None` for anything the rules refuse.
fn decode(raw: &[u8], in_path: bool) -> Option<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            let v = u8::from_str_radix(hex, 16).ok()?;
            // Encoded `%` (double encoding), controls and `\` anywhere;
            // encoded delimiters in a path segment.
            if v == b'%' || is_control(v) || v == b'\\' {
                return None;
            }
            if in_path && matches!(v, b'/' | b';' | b'#' | b'?') {
                return None;
            }
            out.push(v);
            i += 3;
        } else {
            // Literal: no control, `\`, `;`, `#`, and none of the characters
            // that must always be escaped.
            if is_control(b) || b"\\;# \"<>`{}|^".contains(&b) {
                return None;
            }
            out.push(b);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    Some(text)
}

/// The canonical spelling: unreserved characters and the part's safe
/// delimiters as they are, every other byte as upper-case `%XX`.
fn encode(text: &str, in_path: bool) -> String {
    let safe: &[u8] = if in_path {
        b"!$&'()*+,=:@"
    } else {
        b"!$'()*,:@/?"
    };
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
