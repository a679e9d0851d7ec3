//! Durations on the command line: `10s`, `500ms`, `2m`, or plain seconds.

use std::time::Duration;

/// A duration that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration `{0}` (use e.g. `10s`, `500ms`, `2m`)")]
pub struct DurationError(String);

/// Parses `10s`, `1.5s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number.parse().map_err(|_| DurationError(text.to_owned()))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(DurationError(text.to_owned())),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert!(parse("ten").is_err());
        assert!(parse("5d").is_err());
        assert!(parse("-1s").is_err());
    }
}
