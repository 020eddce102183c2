//! The one sanitiser for outside text (plugin output, plugin file names,
//! connector types, conn ids, spec problems) on its way to a terminal, a log
//! or an error: nothing in it can move the cursor, rewrite a line, reorder
//! what a reader sees, or hide characters.

/// Longest sanitised text, in characters; the rest is cut with `…`.
const MAX_CHARS: usize = 1024;

/// `text` made safe for one line: line breaks and tabs become spaces; other
/// C0/C1 controls, DEL, and Unicode format characters (bidi overrides and
/// isolates, zero-width characters, line and paragraph separators) are shown
/// as `\u{…}` escapes; at most 1024 characters.
pub fn sanitize(text: &str) -> String {
    let text = text.trim();
    let mut out = String::with_capacity(text.len().min(MAX_CHARS));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_hidden(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// [`sanitize`] for bytes that may not be UTF-8 (invalid sequences become U+FFFD).
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(bytes))
}

/// The rule a value's name follows (it becomes a variable, a file name and
/// a shell `case` pattern): the connectors check it with the same function.
pub(crate) use lava_rules::names::is_env_name;

/// Whether `c` is a control or format character: invisible, or able to
/// change how the text around it is shown (Unicode general categories Cc,
/// Cf, Zl and Zp; the tests check this against Python's `unicodedata`).
pub fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    // ASCII has controls (Cc) and none of the other three: answered without
    // the table lookup, which every call paid for the ids in its audit context.
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    matches!(c.general_category(), G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_carriage_returns_cannot_reach_a_terminal() {
        assert_eq!(sanitize("a\u{1b}[2Jb\rc\nd\te"), "a\\u{1b}[2Jb c d e");
        assert_eq!(sanitize("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(sanitize("\u{7f}"), "\\u{7f}");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_shown_escaped() {
        assert_eq!(sanitize("evil\u{202E}txt.wasm"), "evil\\u{202e}txt.wasm");
        assert_eq!(sanitize("a\u{2066}b\u{2069}"), "a\\u{2066}b\\u{2069}");
        assert_eq!(sanitize("aws\u{200B}"), "aws\\u{200b}");
        assert_eq!(sanitize("a\u{2028}b"), "a\\u{2028}b");
        assert_eq!(sanitize("\u{FEFF}x"), "\\u{feff}x");
    }

    #[test]
    fn ordinary_text_in_any_script_is_kept() {
        assert_eq!(sanitize("  Ünïcødé 東京 ✓ "), "Ünïcødé 東京 ✓");
    }

    #[test]
    fn long_text_is_cut_at_1024_characters() {
        let out = sanitize(&"é".repeat(5000));
        assert_eq!(out.chars().count(), 1025);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(sanitize_bytes(b"a\xffb"), "a\u{FFFD}b");
    }

    /// Differential: every character Python's `unicodedata` puts in Cc, Cf,
    /// Zl or Zp is hidden here too.
    #[test]
    fn every_control_and_format_character_python_knows_is_hidden() {
        let script = "import sys, unicodedata\n\
            print(' '.join(str(c) for c in range(sys.maxunicode + 1)\n\
            if unicodedata.category(chr(c)) in ('Cc', 'Cf', 'Zl', 'Zp')))";
        let out = match std::process::Command::new("python3").args(["-c", script]).output() {
            Ok(out) if out.status.success() => out,
            other => panic!("python3 is needed for this test: {other:?}"),
        };
        let codes: Vec<u32> =
            String::from_utf8(out.stdout).unwrap().split_whitespace().map(|c| c.parse().unwrap()).collect();
        assert!(codes.len() > 150, "python listed only {} characters", codes.len());
        let missed: Vec<String> = codes
            .into_iter()
            .filter_map(char::from_u32)
            .filter(|&c| !is_hidden(c))
            .map(|c| format!("U+{:04X}", c as u32))
            .collect();
        assert!(missed.is_empty(), "not hidden: {missed:?}");
    }
}
