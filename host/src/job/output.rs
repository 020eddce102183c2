//! The shapes in which resolved AWS credentials are handed to jobs and tools.
//! Every function here returns secret text: write it only where it belongs.

use std::time::SystemTime;

use aws_sdk_sts::primitives::{DateTime, DateTimeFormat};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::results::{AwsCredentials, Resolved};

/// RFC 3339 in UTC, as AWS tools expect (`2026-01-02T03:04:05Z`).
pub fn rfc3339(time: SystemTime) -> String {
    DateTime::from(time).fmt(DateTimeFormat::DateTime).unwrap_or_default()
}

/// Single-quote `text` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The resolved connection as JSON: region, keys, token, expiration, and any named values.
pub fn json(conn_id: &str, resolved: &Resolved) -> Value {
    let mut out = Map::new();
    out.insert("conn_id".into(), conn_id.into());
    if let Some(aws) = &resolved.aws {
        out.insert("region".into(), aws.region.clone().into());
        out.insert("access_key_id".into(), aws.access_key_id.clone().into());
        out.insert("secret_access_key".into(), aws.secret_access_key.expose_secret().into());
        out.insert("session_token".into(), aws.session_token.as_ref().map(|t| t.expose_secret().to_string()).into());
        if let Some(url) = &aws.endpoint_url {
            out.insert("endpoint_url".into(), url.clone().into());
        }
    }
    out.insert("expiration".into(), resolved.expiration.map(rfc3339).into());
    if !resolved.values.is_empty() {
        let values: Map<String, Value> =
            resolved.values.iter().map(|v| (v.name.clone(), v.value.expose_secret().into())).collect();
        out.insert("values".into(), Value::Object(values));
    }
    Value::Object(out)
}

/// `export NAME='value'` lines for a shell: keys, token, region and expiration.
pub fn env_lines(aws: &AwsCredentials) -> String {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", aws.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", aws.secret_access_key.expose_secret().to_string()),
    ];
    if let Some(token) = &aws.session_token {
        vars.push(("AWS_SESSION_TOKEN", token.expose_secret().to_string()));
    }
    if let Some(region) = &aws.region {
        vars.push(("AWS_REGION", region.clone()));
        vars.push(("AWS_DEFAULT_REGION", region.clone()));
    }
    if let Some(expiration) = aws.expiration {
        vars.push(("AWS_CREDENTIAL_EXPIRATION", rfc3339(expiration)));
    }
    if let Some(url) = &aws.endpoint_url {
        vars.push(("AWS_ENDPOINT_URL", url.clone()));
    }
    vars.into_iter().map(|(name, value)| format!("export {name}={}\n", shell_quote(&value))).collect()
}

/// The AWS `credential_process` output, Version 1.
pub fn credential_process(aws: &AwsCredentials) -> String {
    let mut out = json!({
        "Version": 1,
        "AccessKeyId": aws.access_key_id,
        "SecretAccessKey": aws.secret_access_key.expose_secret(),
    });
    if let Some(token) = &aws.session_token {
        out["SessionToken"] = token.expose_secret().into();
    }
    if let Some(expiration) = aws.expiration {
        out["Expiration"] = rfc3339(expiration).into();
    }
    out.to_string()
}

/// The Redshift `UNLOAD`/`COPY` authorization clause. A component holding a
/// quote would break out of the SQL string, so it is refused.
pub fn redshift_clause(aws: &AwsCredentials) -> Result<String, String> {
    let secret = aws.secret_access_key.expose_secret();
    let token = aws.session_token.as_ref().map(|t| t.expose_secret());
    let parts = [
        ("access key id", Some(aws.access_key_id.as_str())),
        ("secret access key", Some(secret)),
        ("session token", token),
    ];
    if let Some((what, _)) = parts.iter().find(|(_, v)| v.is_some_and(|v| v.contains('\''))) {
        return Err(format!("the {what} contains a quote; refusing to build a Redshift authorization clause"));
    }
    let mut clause = format!("ACCESS_KEY_ID '{}' SECRET_ACCESS_KEY '{secret}'", aws.access_key_id);
    if let Some(token) = token {
        clause.push_str(&format!(" SESSION_TOKEN '{token}'"));
    }
    Ok(clause)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn creds(secret: &str, token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: secret.to_string().into(),
            session_token: token.map(|t| t.to_string().into()),
            expiration: Some(UNIX_EPOCH + Duration::from_secs(1_767_225_600)),
            region: Some("eu-west-1".into()),
            endpoint_url: None,
        }
    }

    #[test]
    fn formats() {
        let c = creds("se'cret", Some("tok"));
        assert_eq!(
            env_lines(&c),
            "export AWS_ACCESS_KEY_ID='AKID'\nexport AWS_SECRET_ACCESS_KEY='se'\\''cret'\nexport AWS_SESSION_TOKEN='tok'\n\
             export AWS_REGION='eu-west-1'\nexport AWS_DEFAULT_REGION='eu-west-1'\n\
             export AWS_CREDENTIAL_EXPIRATION='2026-01-01T00:00:00Z'\n"
        );
        let process: Value = serde_json::from_str(&credential_process(&c)).unwrap();
        assert_eq!(
            process,
            json!({"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "se'cret", "SessionToken": "tok", "Expiration": "2026-01-01T00:00:00Z"})
        );
        assert!(redshift_clause(&c).unwrap_err().contains("secret access key"));
        assert!(!redshift_clause(&c).unwrap_err().contains("se'cret"));
        assert_eq!(
            redshift_clause(&creds("s", Some("t"))).unwrap(),
            "ACCESS_KEY_ID 'AKID' SECRET_ACCESS_KEY 's' SESSION_TOKEN 't'"
        );
        assert_eq!(redshift_clause(&creds("s", None)).unwrap(), "ACCESS_KEY_ID 'AKID' SECRET_ACCESS_KEY 's'");
    }
}
