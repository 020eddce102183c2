//! Connection specs: reading them from JSON or YAML files, and a spec as the
//! host keeps it once read (with its digest, which keys the credential cache).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cache::Expiring;
use crate::error::SpecFileError;
use crate::sanitizer::sanitize;

/// Deepest nesting a YAML spec file may have. lava's specs nest three deep;
/// YAML's scanner takes time growing with the square of the flow nesting
/// (100,000 `[` took 27 s), so it is bounded before the file is parsed.
pub const MAX_SPEC_NESTING: usize = 64;

/// The specs in `path`: one spec (a map) or a list of them, as JSON or YAML.
/// `.json` files are parsed as JSON, everything else as YAML (a superset).
/// The file must be a regular file of at most `max_bytes`, checked on the
/// open handle (it is opened without blocking, so a FIFO cannot hang the
/// read), and, as YAML, nest at most [`MAX_SPEC_NESTING`] deep, checked
/// before it is parsed into values. A key given twice in one map is an error naming it and its lines.
pub fn read_spec_file(path: &Path, max_bytes: u64) -> Result<Vec<Value>, SpecFileError> {
    parse_spec_text(path, &read_spec_text(path, max_bytes)?)
}

/// The text of the spec file `path`, as [`read_spec_file`] reads it
/// ([`crate::untrusted_files::read_capped`]).
pub(crate) fn read_spec_text(path: &Path, max_bytes: u64) -> Result<String, SpecFileError> {
    use crate::untrusted_files::Refused;
    let refused = |message: String| SpecFileError::Parse { path: path.to_path_buf(), message };
    let too_big = |len: u64| {
        refused(format!(
            "is {} KiB, more than the {} KiB a spec file may be (setting max_spec_file_kib)",
            len.div_ceil(1024),
            max_bytes / 1024
        ))
    };
    let (bytes, _) = crate::untrusted_files::read_capped(path, max_bytes).map_err(|e| match e {
        Refused::Open(source) | Refused::Io(source) => SpecFileError::Read { path: path.to_path_buf(), source },
        Refused::Folder | Refused::NotRegular => refused("is not a regular file; spec files must be".into()),
        Refused::TooBig(len) => too_big(len),
        Refused::Grew => too_big(max_bytes + 1),
    })?;
    String::from_utf8(bytes).map_err(|e| refused(format!("is not UTF-8 text: {e}")))
}

/// The specs in `text`, as [`read_spec_file`] parses them from `path`: JSON
/// when `path` ends in `.json`, YAML otherwise; `path` names them in errors.
pub fn parse_spec_text(path: &Path, text: &str) -> Result<Vec<Value>, SpecFileError> {
    let parse_error = |message: String| SpecFileError::Parse { path: path.to_path_buf(), message };
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    // JSON's parser is a streaming one with a recursion limit of its own (128).
    if !is_json {
        check_yaml_nesting(text).map_err(parse_error)?;
    }
    let value = parse(text, is_json).map_err(parse_error)?;
    match value {
        Value::Array(items) => {
            if let Some(i) = items.iter().position(|v| !v.is_object()) {
                return Err(parse_error(format!("item {i} of the list is not a connection spec (a map)")));
            }
            Ok(items)
        }
        Value::Object(_) => Ok(vec![value]),
        _ => Err(parse_error("holds neither a connection spec (a map) nor a list of them".into())),
    }
}

/// YAML `text` nests at most [`MAX_SPEC_NESTING`] deep (flow `[`/`{` and
/// block collections alike), found by libyaml's own event parser (the one
/// serde_yaml_ng runs), which stops at the first collection past the bound.
/// Its scanner's cost per token grows with the flow depth reached, so
/// stopping there keeps the check linear; a nesting written in any quoting
/// or style is the parser's, not a guess of ours. A syntax error ends the
/// check without a verdict: the parse that follows reports it.
fn check_yaml_nesting(text: &str) -> Result<(), String> {
    match deepest_line_past(text.as_bytes(), MAX_SPEC_NESTING) {
        Some(line) => Err(format!("nests deeper than {MAX_SPEC_NESTING} levels (at line {line})")),
        None => Ok(()),
    }
}

/// The line (1-based) of the first collection in YAML `input` nested more
/// than `max` deep, if any.
fn deepest_line_past(input: &[u8], max: usize) -> Option<u64> {
    use std::mem::MaybeUninit;
    use unsafe_libyaml as unsafe_yaml;
    // libyaml keeps a pointer to the parser in the parser (its read
    // handler's data): boxed, so that it never moves.
    let mut parser: Box<MaybeUninit<unsafe_yaml::yaml_parser_t>> = Box::new_uninit();
    let parser = parser.as_mut_ptr();
    // SAFETY: the parser is initialised before any other use and deleted
    // once, at the end; `input` outlives it; every event the parser fills
    // is deleted after its type and mark are read.
    unsafe {
        if unsafe_yaml::yaml_parser_initialize(parser).fail {
            return None;
        }
        unsafe_yaml::yaml_parser_set_encoding(parser, unsafe_yaml::YAML_UTF8_ENCODING);
        unsafe_yaml::yaml_parser_set_input_string(parser, input.as_ptr(), input.len() as _);
        let (mut depth, mut past) = (0usize, None);
        loop {
            let mut event = MaybeUninit::<unsafe_yaml::yaml_event_t>::uninit();
            if unsafe_yaml::yaml_parser_parse(parser, event.as_mut_ptr()).fail {
                break;
            }
            let event = event.as_mut_ptr();
            let (kind, line) = ((*event).type_, (*event).start_mark.line);
            unsafe_yaml::yaml_event_delete(event);
            match kind {
                unsafe_yaml::YAML_SEQUENCE_START_EVENT | unsafe_yaml::YAML_MAPPING_START_EVENT => {
                    depth += 1;
                    if depth > max {
                        past = Some(line + 1);
                        break;
                    }
                }
                unsafe_yaml::YAML_SEQUENCE_END_EVENT | unsafe_yaml::YAML_MAPPING_END_EVENT => {
                    depth = depth.saturating_sub(1)
                }
                unsafe_yaml::YAML_STREAM_END_EVENT => break,
                _ => {}
            }
        }
        unsafe_yaml::yaml_parser_delete(parser);
        past
    }
}

/// Parse `text` as JSON or YAML into a value, refusing repeated keys.
fn parse(text: &str, is_json: bool) -> Result<Value, String> {
    let parsed = if is_json {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        Unique::deserialize(&mut deserializer)
            .and_then(|value| deserializer.end().map(|()| value))
            .map_err(|e| (format!("invalid JSON: {e}"), e.is_data().then(|| e.line())))
    } else {
        serde_yaml_ng::from_str::<Unique>(text)
            .map_err(|e| (format!("invalid YAML: {e}"), e.location().map(|l| l.line())))
    };
    parsed.map(|unique| unique.0).map_err(|(message, line)| match repeated_key(&message) {
        Some(key) => repeated_key_message(text, &key, if is_json { line } else { None }),
        None => message,
    })
}

/// The text of the error a repeated key raises, before the parser adds where.
const REPEATED: &str = "is given twice in one map";

/// The key named in a parser's message for a repeated key.
fn repeated_key(message: &str) -> Option<String> {
    let (_, after) = message.split_once("key `")?;
    let (key, rest) = after.split_once('`')?;
    rest.trim_start().starts_with(REPEATED).then(|| key.to_string())
}

/// "key `k` is given twice in one map (it is a key on lines 3 and 7)": the
/// lines that hold the key as a key, up to `last` (where JSON's parser
/// found the second; YAML's does not say where).
fn repeated_key_message(text: &str, key: &str, last: Option<usize>) -> String {
    let forms = [format!("{key}:"), format!("\"{key}\""), format!("'{key}'")];
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .take(last.unwrap_or(usize::MAX))
        .filter(|(_, l)| {
            let l = l.trim_start().trim_start_matches(['-', ' ', '{', ',']);
            forms.iter().any(|f| l.starts_with(f.as_str()))
        })
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    let lines = match lines.as_slice() {
        [] => String::new(),
        [one] => format!(" (it is a key on line {one})"),
        [rest @ .., last] => format!(" (it is a key on lines {} and {last})", rest.join(", ")),
    };
    format!("key `{}` {REPEATED}{lines}: a spec says each thing once; remove one of them", sanitize(key))
}

/// A JSON value parsed from JSON or YAML in which no map repeats a key:
/// serde_json and serde_yaml_ng keep the last of two values silently.
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Unique::deserialize(d).map(|u| u.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("key `{key}` {REPEATED}")));
            }
            let Unique(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The `conn_id` of a spec, for messages; `<no conn_id>` when absent.
pub fn conn_id_of(spec: &Value) -> &str {
    spec.get("conn_id").and_then(Value::as_str).unwrap_or("<no conn_id>")
}

/// The spec as the JSON text a plugin is given. Serialised straight into a
/// buffer: `Value`'s `Display` passes every token through `fmt`.
pub fn to_json(spec: &Value) -> String {
    serde_json::to_string(spec).expect("a JSON value always serialises")
}

/// A spec with the SHA-256 of its JSON: what the credential cache keys by,
/// computed once per read rather than at every resolve.
#[derive(Debug)]
pub(crate) struct CachedSpec {
    pub spec: Value,
    pub digest: [u8; 32],
}

impl CachedSpec {
    pub fn new(spec: Value) -> Self {
        let mut hasher = Sha256::new();
        serde_json::to_writer(HashWriter(&mut hasher), &spec).expect("a JSON value always serialises");
        Self { digest: hasher.finalize().into(), spec }
    }
}

impl Expiring for CachedSpec {}

/// Feeds serialised JSON straight into the digest, with no copy of it.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which spec: a realm's conn id. Hashed into a fixed-size key, each part
/// length-prefixed, so that a lookup allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SpecKey([u8; 32]);

impl SpecKey {
    pub fn new(realm: &str, conn_id: &str) -> Self {
        let mut hasher = Sha256::new();
        for part in [realm, conn_id] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> Result<Vec<Value>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        read_spec_file(&path, 1 << 20).map_err(|e| e.to_string())
    }

    #[test]
    fn a_key_given_twice_is_refused_naming_it_and_its_lines_in_json_and_yaml() {
        let json = "{\n  \"conn_id\": \"c\",\n  \"role_arn\": \"a\",\n  \"role_arn\": \"b\"\n}";
        let error = read("c.json", json).unwrap_err();
        assert!(error.contains("key `role_arn` is given twice in one map (it is a key on lines 3 and 4)"), "{error}");
        let yaml = "conn_id: c\nrole_arn: a\ntags:\n  k: 1\nrole_arn: b\n";
        let error = read("c.yaml", yaml).unwrap_err();
        assert!(error.contains("key `role_arn` is given twice in one map (it is a key on lines 2 and 5)"), "{error}");
        let nested = "- conn_id: c\n  tags:\n    k: 1\n    k: 2\n";
        assert!(read("n.yaml", nested).unwrap_err().contains("key `k` is given twice"));
        // The same key in two maps is no repetition.
        assert_eq!(read("ok.yaml", "- conn_id: a\n- conn_id: b\n").unwrap().len(), 2);
    }

    #[test]
    fn nesting_is_bounded_before_parsing_and_what_is_within_it_parses() {
        let within = format!("conn_id: c\nx: {}{}\n", "[".repeat(62), "]".repeat(62));
        assert_eq!(read("w.yaml", &within).unwrap().len(), 1);
        let error = read("d.yaml", &format!("conn_id: c\nx: {}", "{a: ".repeat(64))).unwrap_err();
        assert!(error.contains("nests deeper than 64") && error.contains("line 2"), "{error}");
        // Block nesting counts as flow does.
        let block: String = (0..70).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
        assert!(read("b.yaml", &block).unwrap_err().contains("nests deeper"));
        // Brackets in quoted scalars are text, and closing ones hide no nesting.
        let quoted = format!("conn_id: c\nx: '{}'\n", "[".repeat(100));
        assert_eq!(read("q.yaml", &quoted).unwrap()[0]["x"], "[".repeat(100));
        let hiding = format!("{}x", "[']', ".repeat(150_000));
        let started = std::time::Instant::now();
        assert!(read("h.yaml", &hiding).unwrap_err().contains("nests deeper than 64"));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn what_parses_is_what_serde_json_and_serde_yaml_give_without_repeated_keys() {
        let json =
            r#"[{"conn_id": "c", "n": 1, "f": 1.5, "neg": -2, "b": true, "z": null, "l": [1, "a"], "m": {"k": "v"}}]"#;
        let expected: Value = serde_json::from_str(json).unwrap();
        assert_eq!(Value::Array(read("a.json", json).unwrap()), expected);
        let yaml = "- conn_id: c\n  n: 1\n  f: 1.5\n  neg: -2\n  b: true\n  z: ~\n  l: [1, a]\n  m: {k: v}\n";
        let expected: Value = serde_yaml_ng::from_str(yaml).unwrap();
        assert_eq!(Value::Array(read("a.yaml", yaml).unwrap()), expected);
    }

    #[test]
    fn a_fifo_or_a_folder_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let error = read_spec_file(&fifo, 1 << 20).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        let error = read_spec_file(dir.path(), 1 << 20).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }
}
