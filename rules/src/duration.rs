//! lava's duration grammar (`lava.lib.datetime.duration_to_seconds`).
//!
//! Optional whitespace, a number (optional sign, integer or decimal, optional
//! exponent), optional whitespace, an optional case-sensitive unit `w d h m s`,
//! optional whitespace, nothing else. No unit means seconds.

/// Seconds in `text`, or a message saying what would be valid.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let invalid = || {
        format!(
            "`{text}` is not a duration: use a number with an optional unit w, d, h, m or s \
             (for example `3h`, `90m`, `1.5h`, `3600`)"
        )
    };
    let trimmed = text.trim();
    let (number, multiplier) = match trimmed.chars().last() {
        Some('w') => (&trimmed[..trimmed.len() - 1], 604_800.0),
        Some('d') => (&trimmed[..trimmed.len() - 1], 86_400.0),
        Some('h') => (&trimmed[..trimmed.len() - 1], 3_600.0),
        Some('m') => (&trimmed[..trimmed.len() - 1], 60.0),
        Some('s') => (&trimmed[..trimmed.len() - 1], 1.0),
        _ => (trimmed, 1.0),
    };
    let number = number.trim_end();
    // Rust's grammar for finite numbers is lava's,
    // `[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`; what it accepts beyond that
    // (`inf`, `infinity`, `nan`, and `1e999`, which overflows) is never finite,
    // so the finiteness check refuses it. (A separate shape check here was
    // dead code: mutation testing found that no input could tell it apart.)
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let seconds = value * multiplier;
    if !seconds.is_finite() {
        return Err(invalid());
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn accepts_lava_examples() {
        assert_eq!(parse_duration("3h"), Ok(10_800.0));
        assert_eq!(parse_duration("90m"), Ok(5_400.0));
        assert_eq!(parse_duration("1.5h"), Ok(5_400.0));
        assert_eq!(parse_duration("3600"), Ok(3_600.0));
        assert_eq!(parse_duration(" 2 h "), Ok(7_200.0));
        assert_eq!(parse_duration("1w"), Ok(604_800.0));
        assert_eq!(parse_duration("1d"), Ok(86_400.0));
        assert_eq!(parse_duration("45s"), Ok(45.0));
        assert_eq!(parse_duration("1e3"), Ok(1_000.0));
        assert_eq!(parse_duration("2.5E1m"), Ok(1_500.0));
        assert_eq!(parse_duration(".5h"), Ok(1_800.0));
        assert_eq!(parse_duration("1.h"), Ok(3_600.0));
        assert_eq!(parse_duration("+20m"), Ok(1_200.0));
        assert_eq!(parse_duration("-1h"), Ok(-3_600.0));
    }

    #[test]
    fn rejects_what_lava_rejects() {
        for bad in [
            "", " ", "h", "3H", "3 hours", "3hh", "1h30m", "inf", "nan", "infinity", "-inf", "NaN", "1e999", "1e999h",
            "1e", "e5", ".", "+", "0x10", "3h x", "1,5h",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains("not a duration"), "{bad}: {err}");
        }
    }
}
