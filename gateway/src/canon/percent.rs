//! Percent-decoding that refuses every ambiguous form, and the one encoder
//! that writes the canonical form forwarded upstream.

use super::Rejection;

/// Where a piece of the request target came from: the rules differ slightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    PathSegment,
    Query,
}

/// Decodes one raw path segment or query key/value into UTF-8 text.
///
/// Refused: a malformed escape, `%25` (double encoding), invalid UTF-8 after
/// decoding (overlong forms included), control characters (NUL too), a raw
/// backslash, and, in a path segment, an encoded `/ \ ; # ?`.
pub(super) fn decode(
    raw: &[u8],
    part: Part,
    reject_encoded_unreserved: bool,
) -> Result<String, Rejection> {
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
        match b {
            0x00..=0x1f | 0x7f => return Err(Rejection::ControlCharacter),
            b'\\' => return Err(Rejection::Backslash),
            b';' if part == Part::PathSegment => return Err(Rejection::PathParameter),
            b';' => return Err(Rejection::QuerySemicolon),
            b'#' => return Err(Rejection::InvalidCharacter),
            b' ' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'^' => {
                return Err(Rejection::InvalidCharacter);
            }
            _ => out.push(b),
        }
        i += 1;
    }
    let text = String::from_utf8(out).map_err(|_| Rejection::InvalidUtf8)?;
    if text.chars().any(char::is_control) {
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
    for &b in text.as_bytes() {
        let keep = is_unreserved(b)
            || match part {
                Part::PathSegment => matches!(
                    b,
                    b'!' | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b'='
                        | b':'
                        | b'@'
                ),
                // `+` is encoded so that no upstream reads it as a space: the
                // decision took it literally.
                Part::Query => matches!(
                    b,
                    b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b',' | b':' | b'@' | b'/' | b'?'
                ),
            };
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}
