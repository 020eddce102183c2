//! python-slugify's legacy `slugify()` as Airflow calls it for role-session
//! names: `slugify(name, regex_pattern=r"[^\w+=,.@-]+")`, with text-unidecode
//! transliterating (python-slugify's own dependency; Airflow installs no other).
//!
//! A port of python-slugify 9.2.0 (`slugify/_legacy.py`, which its authors
//! keep frozen) step by step, in the same order, because the order shows:
//! quotes become dashes before transliteration, HTML entities are decoded
//! after it (so `&eacute;` yields a non-ASCII letter that survives), commas
//! between digits vanish, and Python's `\w` is Unicode. The differential test
//! (`tests/tests/airflow_slugify.rs`) runs the real python-slugify beside it.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// text-unidecode 1.3's table (`data.bin`): the ASCII for code point `n` is
/// the `n-1`th NUL-separated entry; code points past it are dropped.
const UNIDECODE: &[u8] = include_bytes!("text_unidecode.bin");

/// Entries per block of the index: a lookup scans at most this many entries.
const BLOCK: usize = 256;

/// Where Python would hold a lone surrogate (from `&#55296;`), this holds a
/// character that every later step treats the same way: no decomposition, no
/// case, not a word character, not part of any pattern.
const SURROGATE: char = '\u{FFFF}';

/// HTML 4's named entities (Python's `html.entities.name2codepoint`).
const ENTITIES: &[(&str, u32)] = &[
    ("AElig", 198),
    ("Aacute", 193),
    ("Acirc", 194),
    ("Agrave", 192),
    ("Alpha", 913),
    ("Aring", 197),
    ("Atilde", 195),
    ("Auml", 196),
    ("Beta", 914),
    ("Ccedil", 199),
    ("Chi", 935),
    ("Dagger", 8225),
    ("Delta", 916),
    ("ETH", 208),
    ("Eacute", 201),
    ("Ecirc", 202),
    ("Egrave", 200),
    ("Epsilon", 917),
    ("Eta", 919),
    ("Euml", 203),
    ("Gamma", 915),
    ("Iacute", 205),
    ("Icirc", 206),
    ("Igrave", 204),
    ("Iota", 921),
    ("Iuml", 207),
    ("Kappa", 922),
    ("Lambda", 923),
    ("Mu", 924),
    ("Ntilde", 209),
    ("Nu", 925),
    ("OElig", 338),
    ("Oacute", 211),
    ("Ocirc", 212),
    ("Ograve", 210),
    ("Omega", 937),
    ("Omicron", 927),
    ("Oslash", 216),
    ("Otilde", 213),
    ("Ouml", 214),
    ("Phi", 934),
    ("Pi", 928),
    ("Prime", 8243),
    ("Psi", 936),
    ("Rho", 929),
    ("Scaron", 352),
    ("Sigma", 931),
    ("THORN", 222),
    ("Tau", 932),
    ("Theta", 920),
    ("Uacute", 218),
    ("Ucirc", 219),
    ("Ugrave", 217),
    ("Upsilon", 933),
    ("Uuml", 220),
    ("Xi", 926),
    ("Yacute", 221),
    ("Yuml", 376),
    ("Zeta", 918),
    ("aacute", 225),
    ("acirc", 226),
    ("acute", 180),
    ("aelig", 230),
    ("agrave", 224),
    ("alefsym", 8501),
    ("alpha", 945),
    ("amp", 38),
    ("and", 8743),
    ("ang", 8736),
    ("aring", 229),
    ("asymp", 8776),
    ("atilde", 227),
    ("auml", 228),
    ("bdquo", 8222),
    ("beta", 946),
    ("brvbar", 166),
    ("bull", 8226),
    ("cap", 8745),
    ("ccedil", 231),
    ("cedil", 184),
    ("cent", 162),
    ("chi", 967),
    ("circ", 710),
    ("clubs", 9827),
    ("cong", 8773),
    ("copy", 169),
    ("crarr", 8629),
    ("cup", 8746),
    ("curren", 164),
    ("dArr", 8659),
    ("dagger", 8224),
    ("darr", 8595),
    ("deg", 176),
    ("delta", 948),
    ("diams", 9830),
    ("divide", 247),
    ("eacute", 233),
    ("ecirc", 234),
    ("egrave", 232),
    ("empty", 8709),
    ("emsp", 8195),
    ("ensp", 8194),
    ("epsilon", 949),
    ("equiv", 8801),
    ("eta", 951),
    ("eth", 240),
    ("euml", 235),
    ("euro", 8364),
    ("exist", 8707),
    ("fnof", 402),
    ("forall", 8704),
    ("frac12", 189),
    ("frac14", 188),
    ("frac34", 190),
    ("frasl", 8260),
    ("gamma", 947),
    ("ge", 8805),
    ("gt", 62),
    ("hArr", 8660),
    ("harr", 8596),
    ("hearts", 9829),
    ("hellip", 8230),
    ("iacute", 237),
    ("icirc", 238),
    ("iexcl", 161),
    ("igrave", 236),
    ("image", 8465),
    ("infin", 8734),
    ("int", 8747),
    ("iota", 953),
    ("iquest", 191),
    ("isin", 8712),
    ("iuml", 239),
    ("kappa", 954),
    ("lArr", 8656),
    ("lambda", 955),
    ("lang", 9001),
    ("laquo", 171),
    ("larr", 8592),
    ("lceil", 8968),
    ("ldquo", 8220),
    ("le", 8804),
    ("lfloor", 8970),
    ("lowast", 8727),
    ("loz", 9674),
    ("lrm", 8206),
    ("lsaquo", 8249),
    ("lsquo", 8216),
    ("lt", 60),
    ("macr", 175),
    ("mdash", 8212),
    ("micro", 181),
    ("middot", 183),
    ("minus", 8722),
    ("mu", 956),
    ("nabla", 8711),
    ("nbsp", 160),
    ("ndash", 8211),
    ("ne", 8800),
    ("ni", 8715),
    ("not", 172),
    ("notin", 8713),
    ("nsub", 8836),
    ("ntilde", 241),
    ("nu", 957),
    ("oacute", 243),
    ("ocirc", 244),
    ("oelig", 339),
    ("ograve", 242),
    ("oline", 8254),
    ("omega", 969),
    ("omicron", 959),
    ("oplus", 8853),
    ("or", 8744),
    ("ordf", 170),
    ("ordm", 186),
    ("oslash", 248),
    ("otilde", 245),
    ("otimes", 8855),
    ("ouml", 246),
    ("para", 182),
    ("part", 8706),
    ("permil", 8240),
    ("perp", 8869),
    ("phi", 966),
    ("pi", 960),
    ("piv", 982),
    ("plusmn", 177),
    ("pound", 163),
    ("prime", 8242),
    ("prod", 8719),
    ("prop", 8733),
    ("psi", 968),
    ("quot", 34),
    ("rArr", 8658),
    ("radic", 8730),
    ("rang", 9002),
    ("raquo", 187),
    ("rarr", 8594),
    ("rceil", 8969),
    ("rdquo", 8221),
    ("real", 8476),
    ("reg", 174),
    ("rfloor", 8971),
    ("rho", 961),
    ("rlm", 8207),
    ("rsaquo", 8250),
    ("rsquo", 8217),
    ("sbquo", 8218),
    ("scaron", 353),
    ("sdot", 8901),
    ("sect", 167),
    ("shy", 173),
    ("sigma", 963),
    ("sigmaf", 962),
    ("sim", 8764),
    ("spades", 9824),
    ("sub", 8834),
    ("sube", 8838),
    ("sum", 8721),
    ("sup", 8835),
    ("sup1", 185),
    ("sup2", 178),
    ("sup3", 179),
    ("supe", 8839),
    ("szlig", 223),
    ("tau", 964),
    ("there4", 8756),
    ("theta", 952),
    ("thetasym", 977),
    ("thinsp", 8201),
    ("thorn", 254),
    ("tilde", 732),
    ("times", 215),
    ("trade", 8482),
    ("uArr", 8657),
    ("uacute", 250),
    ("uarr", 8593),
    ("ucirc", 251),
    ("ugrave", 249),
    ("uml", 168),
    ("upsih", 978),
    ("upsilon", 965),
    ("uuml", 252),
    ("weierp", 8472),
    ("xi", 958),
    ("yacute", 253),
    ("yen", 165),
    ("yuml", 255),
    ("zeta", 950),
    ("zwj", 8205),
    ("zwnj", 8204),
];

/// `slugify(text, regex_pattern=r"[^\w+=,.@-]+")` with python-slugify's defaults.
pub fn slugify_session_name(text: &str) -> String {
    let text = replace_quote_runs(text, "-");
    let text: String = text.nfkd().collect();
    let text = if text.is_ascii() { text } else { transliterate(&text) };
    let text = decode_entities(&text);
    let text: String = text.nfkd().collect();
    let text = text.to_lowercase();
    let text = text.replace('\'', "");
    let text = remove_digit_commas(&text);
    let text = replace_disallowed(&text);
    collapse_dashes(&text).trim_matches('-').to_string()
}

/// `re.sub(r"[']+", with, text)`.
fn replace_quote_runs(text: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if c == '\'' {
            if !in_run {
                out.push_str(with);
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out
}

/// text-unidecode's `unidecode()`: each character by the table; NUL stays
/// NUL; characters past the table (beyond U+FFFF) are dropped.
fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = c as usize;
        if code == 0 {
            out.push('\0');
            continue;
        }
        if let Some(entry) = entry(code - 1) {
            // The table is ASCII; a non-UTF-8 entry would be a broken table.
            out.push_str(std::str::from_utf8(entry).unwrap_or_default());
        }
    }
    out
}

/// Byte offsets of every `BLOCK`th entry of the table, computed at compile time.
const BLOCK_STARTS: [usize; ENTRY_COUNT.div_ceil(BLOCK)] = block_starts();

const fn block_starts() -> [usize; ENTRY_COUNT.div_ceil(BLOCK)] {
    let mut starts = [0; ENTRY_COUNT.div_ceil(BLOCK)];
    let (mut i, mut entry, mut block) = (0, 0, 1);
    while i < UNIDECODE.len() && block < starts.len() {
        if UNIDECODE[i] == 0 {
            entry += 1;
            if entry % BLOCK == 0 {
                starts[block] = i + 1;
                block += 1;
            }
        }
        i += 1;
    }
    starts
}

/// Entry `n` of the table, if the table has one.
fn entry(n: usize) -> Option<&'static [u8]> {
    if n >= ENTRY_COUNT {
        return None;
    }
    let start = BLOCK_STARTS[n / BLOCK];
    UNIDECODE[start..].split(|&b| b == 0).nth(n % BLOCK)
}

/// Entries in the table (text-unidecode's `len(_replaces)`).
const ENTRY_COUNT: usize = 65_535;

/// Named entities, then decimal, then hexadecimal references, each pass over
/// the whole text as Python's `re.sub` makes it. A numeric pass is all or
/// nothing: one reference past U+10FFFF makes Python's `chr` raise inside
/// `re.sub`, and python-slugify then keeps the text of that pass unchanged.
fn decode_entities(text: &str) -> String {
    let text = decode_named(text);
    let text = decode_numeric(&text, "&#", 10).unwrap_or(text);
    decode_numeric(&text, "&#x", 16).unwrap_or(text)
}

fn decode_named(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        // Entity names are at most 8 characters: look no further for the `;`.
        let semicolon = after.char_indices().take(9).find(|&(_, c)| c == ';').map(|(i, _)| i);
        let named = semicolon.and_then(|end| {
            let name = &after[..end];
            ENTITIES.iter().find(|(n, _)| *n == name).map(|(_, code)| (end, *code))
        });
        match named {
            Some((end, code)) => {
                out.push(char::from_u32(code).unwrap_or(SURROGATE));
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `re.sub(prefix + r"(\d+);" or r"([\da-fA-F]+);", chr(int(group, radix)))`,
/// or `None` when one reference is not a code point.
fn decode_numeric(text: &str, prefix: &str, radix: u32) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        let after = &rest[at + prefix.len()..];
        let digits = after.find(|c: char| !c.is_digit(radix)).unwrap_or(after.len());
        if digits > 0 && after[digits..].starts_with(';') {
            let value = u32::from_str_radix(after[..digits].trim_start_matches('0'), radix)
                .ok()
                .or_else(|| after[..digits].bytes().all(|b| b == b'0').then_some(0))?;
            if value > 0x10FFFF {
                return None;
            }
            out.push(char::from_u32(value).unwrap_or(SURROGATE));
            rest = &after[digits + 1..];
        } else {
            // Not a reference here; the next match may start inside it.
            out.push_str(&rest[at..at + 1]);
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// `re.sub(r"(?<=\d),(?=\d)", "", text)` with Python's Unicode `\d`.
fn remove_digit_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_digit = |c: Option<&char>| c.is_some_and(|c| c.general_category() == GeneralCategory::DecimalNumber);
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| !(c == ',' && i > 0 && is_digit(chars.get(i - 1)) && is_digit(chars.get(i + 1))))
        .map(|(_, &c)| c)
        .collect()
}

/// Python's `\w` for text: a letter or a number of any script, or `_`
/// (`str.isalnum()` is exactly general categories L* and N*).
pub fn is_python_word(c: char) -> bool {
    c == '_' || matches!(c.general_category_group(), GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number)
}

/// `re.sub(r"[^\w+=,.@-]+", "-", text)`.
fn replace_disallowed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if is_python_word(c) || matches!(c, '+' | '=' | ',' | '.' | '@' | '-') {
            in_run = false;
            out.push(c);
        } else if !in_run {
            in_run = true;
            out.push('-');
        }
    }
    out
}

/// `re.sub(r"-{2,}", "-", text)`.
fn collapse_dashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::slugify_session_name as slug;

    /// Airflow's own examples and the issue's.
    #[test]
    fn airflow_session_names() {
        assert_eq!(slug("Airflow_aws_default"), "airflow_aws_default");
        assert_eq!(slug("Airflow_aws/test"), "airflow_aws-test");
        assert_eq!(slug("Airflow_a  b"), "airflow_a-b");
        assert_eq!(slug("Airflow_--x--"), "airflow_-x");
    }

    #[test]
    fn the_steps_in_python_slugifys_order() {
        // Quotes become a dash first; transliteration; entities after it.
        assert_eq!(slug("Airflow_it's"), "airflow_it-s");
        assert_eq!(slug("Airflow_Ünïcødé"), "airflow_unicode");
        assert_eq!(slug("Airflow_東京"), "airflow_dong-jing");
        assert_eq!(slug("Airflow_&amp;&lt;x&gt;"), "airflow_-x");
        assert_eq!(slug("Airflow_&szlig;"), "airflow_ß");
        assert_eq!(slug("Airflow_&#65;&#x42;"), "airflow_ab");
        // One reference out of range keeps the whole decimal pass undone.
        assert_eq!(slug("Airflow_&#65;&#99999999;"), "airflow_-65-99999999");
        assert_eq!(slug("Airflow_1,000,000"), "airflow_1000000");
        assert_eq!(slug("Airflow_a,b"), "airflow_a,b");
        assert_eq!(slug("Airflow_😀x"), "airflow_x");
        assert_eq!(slug("Airflow_&#55296;x"), "airflow_-x");
    }
}
