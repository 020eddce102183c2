//! Airflow's connection URIs (`Connection._parse_from_uri` in Airflow core
//! 3.3.2): `aws://<login>:<password>@<host>/?<extra as query>`, parsed the way
//! Python's `urlsplit` and `parse_qsl` parse them.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// What a URI holds, decoded as Airflow decodes it, and what Airflow would
/// warn about.
#[derive(Debug, Default, PartialEq)]
pub struct UriParts {
    pub login: Option<String>,
    pub password: Option<String>,
    pub extra: Map<String, Value>,
    pub warnings: Vec<String>,
}

/// Python's `unquote`: percent-decoding, invalid UTF-8 replaced.
fn unquote(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Python's `unquote_plus`: `+` is a space, then percent-decoding.
fn unquote_plus(text: &str) -> String {
    unquote(&text.replace('+', " "))
}

/// Python's `urlsplit` scheme rule: a letter, then letters, digits, `+`, `-`, `.`.
fn scheme_of(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// Parse `uri`. Errors say what is wrong without repeating the URI (it may hold a secret).
pub fn parse(uri: &str) -> Result<UriParts, String> {
    let invalid = "is not a valid Airflow connection string";
    let schemes = uri.matches("://").count();
    if schemes == 0 {
        return Err("must look like `aws://LOGIN:PASSWORD@/?region_name=...`".into());
    }
    if schemes > 2 {
        return Err(format!("{invalid}: it holds `://` more than twice (Airflow: \"Invalid connection string\")"));
    }
    let Some((scheme, _)) = scheme_of(uri) else {
        return Err("must start with a connection type such as `aws://`".into());
    };
    let mut parts = UriParts::default();
    let conn_type = if scheme == "postgresql" { "postgres".to_string() } else { scheme.replace('-', "_") };
    match conn_type.as_str() {
        "aws" => {}
        "s3" => parts.warnings.push(
            "has connection type `s3`, which Airflow replaced by `aws` (8.29: \"Please update your connection \
             to have conn_type='aws'\")"
                .into(),
        ),
        other => parts.warnings.push(format!(
            "has connection type `{other}`; Airflow expects `aws` and warns \"This connection might not work \
             correctly\""
        )),
    }
    // Airflow removes every `<scheme>://` and splits what is left.
    let host_with_protocol = schemes == 2;
    let rest = uri.replace(&format!("{scheme}://"), if host_with_protocol { "" } else { "//" });
    if host_with_protocol {
        let first = rest.split("://").next().unwrap_or_default();
        if first.contains('@') || first.contains(':') {
            return Err(format!("{invalid} (Airflow: \"Invalid connection string\")"));
        }
    }
    let rest = match scheme_of(&rest) {
        Some((_, after)) if host_with_protocol => after,
        _ => rest.as_str(),
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let netloc = before_query.strip_prefix("//").map(|r| r.split('/').next().unwrap_or_default()).unwrap_or("");
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, netloc),
    };
    if let Some(userinfo) = userinfo {
        let (login, password) = match userinfo.split_once(':') {
            Some((login, password)) => (login, Some(password)),
            None => (userinfo, None),
        };
        parts.login = Some(unquote(login)).filter(|s| !s.is_empty());
        parts.password = password.map(unquote).filter(|s| !s.is_empty());
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || hostport.starts_with('[') => (host, Some(port)),
        _ => (hostport, None),
    };
    let bad_port = |p: &&str| !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u32>().map_or(true, |p| p > 65_535);
    if let Some(port) = port.filter(|p| !p.is_empty()).filter(bad_port) {
        return Err(format!("has port `{port}`, which is not a number from 0 to 65535 (Airflow refuses it)"));
    }
    if !host.is_empty() {
        parts.warnings.push(format!(
            "has host `{}`, which Airflow's AWS connection does not use (8.29: \"set it on extra['endpoint_url'] \
             instead\")",
            unquote(host)
        ));
    }
    let mut query_map: Map<String, Value> = Map::new();
    for field in query.split('&').filter(|f| !f.is_empty()) {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        query_map.insert(unquote_plus(key), Value::String(unquote_plus(value)));
    }
    if let Some(extra) = query_map.get("__extra__") {
        if query_map.len() > 1 {
            parts.warnings.push(
                "has query parameters beside `__extra__`; Airflow reads `__extra__` alone and ignores them".into(),
            );
        }
        let text = extra.as_str().unwrap_or_default();
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => parts.extra = map,
            Ok(other) => {
                return Err(format!(
                    "has an `__extra__` holding {}, not a JSON object",
                    lava_rules::problem::kind(&other)
                ));
            }
            Err(_) if text.is_empty() => {}
            Err(e) => return Err(format!("has an `__extra__` that is not valid JSON ({e})")),
        }
    } else {
        // Each non-empty value that is JSON becomes that JSON value, as in Airflow.
        for (_, value) in query_map.iter_mut() {
            let parsed = value.as_str().filter(|t| !t.is_empty()).and_then(|t| serde_json::from_str::<Value>(t).ok());
            if let Some(parsed) = parsed {
                *value = parsed;
            }
        }
        parts.extra = query_map;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_query_extras() {
        let parts = parse(
            "aws://AKID%2F1:se%2Bcr%3Aet@/?region_name=eu-west-1&role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr",
        )
        .unwrap();
        assert_eq!(parts.login.as_deref(), Some("AKID/1"));
        assert_eq!(parts.password.as_deref(), Some("se+cr:et"));
        assert_eq!(parts.extra["region_name"], "eu-west-1");
        assert_eq!(parts.extra["role_arn"], "arn:aws:iam::123456789012:role/r");
        assert!(parts.warnings.is_empty(), "{:?}", parts.warnings);
    }

    #[test]
    fn query_values_that_are_json_become_json() {
        let parts = parse("aws://@/?assume_role_kwargs=%7B%22DurationSeconds%22%3A+900%7D&verify=false&n=3").unwrap();
        assert_eq!(parts.extra["assume_role_kwargs"]["DurationSeconds"], 900);
        assert_eq!(parts.extra["verify"], false);
        assert_eq!(parts.extra["n"], 3);
    }

    #[test]
    fn extra_as_json_wins_over_other_parameters() {
        let parts = parse("aws://@/?__extra__=%7B%22region_name%22%3A+%22ap-southeast-2%22%7D").unwrap();
        assert_eq!(parts.login, None);
        assert_eq!(parts.extra["region_name"], "ap-southeast-2");
        let parts = parse("aws://@/?__extra__=%7B%7D&region_name=x").unwrap();
        assert!(parts.extra.is_empty());
        assert!(parts.warnings[0].contains("beside `__extra__`"), "{:?}", parts.warnings);
        assert!(parse("aws://@/?__extra__=nope").is_err());
    }

    #[test]
    fn other_schemes_are_warned_about_and_broken_strings_refused() {
        assert!(parse("postgres://u:p@/db").unwrap().warnings[0].contains("`postgres`"));
        assert!(parse("aws://a://b://c").unwrap_err().contains("more than twice"));
        assert!(parse("aws://user:pass@protocol://host").unwrap_err().contains("Invalid connection string"));
        assert!(parse("not a uri").is_err());
        assert!(parse("aws://u:p@host:abc/").unwrap_err().contains("port"));
        assert_eq!(parse("aws://").unwrap(), UriParts::default());
    }
}
