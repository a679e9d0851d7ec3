//! Percent-decoding that refuses every ambiguous form, and the one encoder
//! that writes the canonical form forwarded upstream.

use std::borrow::Cow;

use super::Rejection;

/// Where a piece of the request target came from: the rules differ slightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    PathSegment,
    Query,
}

/// Decodes one raw path segment or query key/value into UTF-8 text,
/// borrowing `raw` when it has no escape (the usual case).
///
/// Refused: a malformed escape, `%25` (double encoding), invalid UTF-8 after
/// decoding (overlong forms included), control characters (NUL too), a raw
/// backslash, and, in a path segment, an encoded `/ \ ; # ?`.
pub(super) fn decode(
    raw: &[u8],
    part: Part,
    reject_encoded_unreserved: bool,
) -> Result<Cow<'_, str>, Rejection> {
    // Already canonical (the usual case): the text is the raw bytes.
    if raw.iter().all(|b| kept(*b, part)) {
        let text = std::str::from_utf8(raw).map_err(|_| Rejection::InvalidUtf8)?;
        return Ok(Cow::Borrowed(text));
    }
    if !raw.contains(&b'%') {
        for &b in raw {
            check_literal(b, part)?;
        }
        let text = std::str::from_utf8(raw).map_err(|_| Rejection::InvalidUtf8)?;
        return checked_text(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                raw.get(i + 1).and_then(|h| hex(*h)),
                raw.get(i + 2).and_then(|l| hex(*l)),
            ) else {
                return Err(Rejection::InvalidEncoding);
            };
            let byte = hi << 4 | lo;
            match byte {
                b'%' => return Err(Rejection::DoubleEncoding),
                0x00..=0x1f | 0x7f => return Err(Rejection::ControlCharacter),
                b'\\' => return Err(Rejection::EncodedDelimiter),
                b'/' | b';' | b'#' | b'?' if part == Part::PathSegment => {
                    return Err(Rejection::EncodedDelimiter);
                }
                _ if reject_encoded_unreserved && is_unreserved(byte) => {
                    return Err(Rejection::EncodedUnreserved);
                }
                _ => {}
            }
            out.push(byte);
            i += 3;
            continue;
        }
        check_literal(b, part)?;
        out.push(b);
        i += 1;
    }
    let text = String::from_utf8(out).map_err(|_| Rejection::InvalidUtf8)?;
    checked_text(Cow::Owned(text))
}

/// A byte that appears as itself (not escaped) in the request target.
fn check_literal(b: u8, part: Part) -> Result<(), Rejection> {
    match b {
        0x00..=0x1f | 0x7f => Err(Rejection::ControlCharacter),
        b'\\' => Err(Rejection::Backslash),
        b';' if part == Part::PathSegment => Err(Rejection::PathParameter),
        b';' => Err(Rejection::QuerySemicolon),
        b'#' => Err(Rejection::InvalidCharacter),
        b' ' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'^' => {
            Err(Rejection::InvalidCharacter)
        }
        _ => Ok(()),
    }
}

/// Decoded text without control characters (C1 controls included).
fn checked_text(text: Cow<'_, str>) -> Result<Cow<'_, str>, Rejection> {
    if !text.is_ascii() && text.chars().any(char::is_control) {
        return Err(Rejection::ControlCharacter);
    }
    Ok(text)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `text` in canonical form: unreserved characters (and a few safe
/// delimiters) as they are, everything else as upper-case `%XX`.
pub(super) fn encode_into(out: &mut String, text: &str, part: Part) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if text.bytes().all(|b| kept(b, part)) {
        out.push_str(text);
        return;
    }
    for &b in text.as_bytes() {
        if kept(b, part) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Whether `b` is written as itself in the canonical form of `part`. Every
/// such byte is also accepted unescaped by [`decode`].
#[inline]
pub(super) fn kept(b: u8, part: Part) -> bool {
    let table = match part {
        Part::PathSegment => &KEPT_IN_PATH,
        Part::Query => &KEPT_IN_QUERY,
    };
    table[usize::from(b)]
}

const KEPT_IN_PATH: [bool; 256] = kept_table(b"!$&'()*+,=:@");
// `+` is encoded so that no upstream reads it as a space: the decision took
// it literally.
const KEPT_IN_QUERY: [bool; 256] = kept_table(b"!$'()*,:@/?");

/// Unreserved characters and `extra`, as a byte lookup table.
const fn kept_table(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path of `decode` returns the raw bytes for kept bytes: that
    /// is only right if the full rules accept each of them unescaped and
    /// decode it to itself.
    #[test]
    fn every_kept_byte_is_accepted_unescaped_by_the_full_rules() {
        for part in [Part::PathSegment, Part::Query] {
            for b in 0..=255u8 {
                if !kept(b, part) {
                    continue;
                }
                assert!(check_literal(b, part).is_ok(), "{b:#x} in {part:?}");
                // Behind another byte the fast path is not taken.
                let raw = [b'%', b'4', b'1', b];
                assert_eq!(
                    decode(&raw, part, false).as_deref(),
                    Ok(format!("A{}", char::from(b)).as_str()),
                );
            }
        }
    }

    #[test]
    fn encode_writes_kept_bytes_as_themselves_and_escapes_the_rest() {
        let mut out = String::new();
        encode_into(&mut out, "a+b c/é", Part::PathSegment);
        assert_eq!(out, "a+b%20c%2F%C3%A9");
        out.clear();
        encode_into(&mut out, "a+b c/?", Part::Query);
        assert_eq!(out, "a%2Bb%20c/?");
    }
}
