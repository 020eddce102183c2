//! Airflow's connection URIs: `aws://<login>:<password>@<host>/?<extra as query>`.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// What a URI holds, decoded as Airflow decodes it.
#[derive(Debug, Default, PartialEq)]
pub struct UriParts {
    pub login: Option<String>,
    pub password: Option<String>,
    pub extra: Map<String, Value>,
}

fn unquote(text: &str) -> Result<String, String> {
    percent_decode_str(text).decode_utf8().map(|s| s.into_owned()).map_err(|_| "is not valid UTF-8 once decoded".into())
}

/// `parse_qsl` decoding: `+` is a space, then percent-decoding.
fn unquote_plus(text: &str) -> Result<String, String> {
    unquote(&text.replace('+', " "))
}

/// Parse `uri`. Errors say what is wrong without repeating the URI (it may hold a secret).
pub fn parse(uri: &str) -> Result<UriParts, String> {
    let (scheme, rest) = uri.split_once("://").ok_or("must look like `aws://LOGIN:PASSWORD@/?region_name=...`")?;
    if !matches!(scheme.replace('-', "_").to_ascii_lowercase().as_str(), "aws" | "amazon_web_services") {
        return Err(format!("has scheme `{scheme}`; an Airflow AWS connection URI starts with `aws://`"));
    }
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut parts = UriParts::default();
    if let Some((userinfo, _host)) = authority.rsplit_once('@') {
        let (login, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let login = unquote(login).map_err(|e| format!("login {e}"))?;
        let password = unquote(password).map_err(|e| format!("password {e}"))?;
        parts.login = (!login.is_empty()).then_some(login);
        parts.password = (!password.is_empty()).then_some(password);
    }
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((unquote_plus(key)?, unquote_plus(value)?));
    }
    if let Some((_, extra)) = pairs.iter().find(|(k, _)| k == "__extra__") {
        if pairs.len() > 1 {
            return Err("has `__extra__` and other query parameters; Airflow accepts `__extra__` alone".into());
        }
        match serde_json::from_str(extra) {
            Ok(Value::Object(map)) => parts.extra = map,
            _ => return Err("has an `__extra__` that is not a JSON object".into()),
        }
    } else {
        parts.extra = pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
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
    }

    #[test]
    fn extra_as_json() {
        let parts = parse("aws://@/?__extra__=%7B%22region_name%22%3A+%22ap-southeast-2%22%7D").unwrap();
        assert_eq!(parts.login, None);
        assert_eq!(parts.extra["region_name"], "ap-southeast-2");
        assert!(parse("aws://@/?__extra__=%7B%7D&x=1").is_err());
        assert!(parse("aws://@/?__extra__=nope").is_err());
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(parse("postgres://u:p@h/db").unwrap_err().contains("aws://"));
        assert!(parse("not a uri").is_err());
        assert_eq!(parse("aws://").unwrap(), UriParts::default());
    }
}
