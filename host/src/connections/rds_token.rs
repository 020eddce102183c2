//! RDS IAM authentication tokens: a SigV4-presigned `connect` URL, made
//! without a request, as botocore's `generate_db_auth_token` and
//! aws-sdk-rds's `auth_token` make it (with the SDK's own signer, without
//! the RDS client).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::capabilities::CapabilityError;

/// How long a token works: RDS accepts 15 minutes, as every SDK signs it.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// SigV4's query encoding: everything but the unreserved characters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The token for `user` at `host:port` in `region`, signed with
/// `credentials` at `time`: `host:port/?Action=connect&DBUser=…&X-Amz-…`.
pub fn auth_token(
    credentials: Credentials,
    region: &str,
    host: &str,
    port: u16,
    user: &str,
    time: SystemTime,
) -> Result<String, CapabilityError> {
    let signing_error = |e: &dyn std::fmt::Display| CapabilityError::Other(format!("cannot sign the RDS token: {e}"));
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.expires_in = Some(TOKEN_LIFETIME);
    settings.signature_location = SignatureLocation::QueryParams;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| signing_error(&e))?;
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={}", utf8_percent_encode(user, QUERY));
    let request = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| signing_error(&e))?;
    let (instructions, _signature) = sign(request, &params.into()).map_err(|e| signing_error(&e))?.into_parts();
    let mut token = url["https://".len()..].to_string();
    // The signature last, as botocore writes it (lava's tokens): the order
    // does not change what is signed, but a token should read as lava's did.
    let mut params = instructions.params().to_vec();
    params.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    for (name, value) in params {
        token.push('&');
        token.push_str(name);
        token.push('=');
        token.extend(utf8_percent_encode(&value, QUERY));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(user: &str, session_token: Option<&str>) -> String {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token.map(str::to_string),
            None,
            "test",
        );
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        auth_token(credentials, "eu-west-1", "db.example.eu-west-1.rds.amazonaws.com", 5432, user, time).unwrap()
    }

    #[test]
    fn a_token_is_the_presigned_connect_url_without_its_scheme() {
        let t = token("etl_user", None);
        assert!(t.starts_with("db.example.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=etl_user&"), "{t}");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Signature=",
        ] {
            assert!(t.contains(part), "{part} in {t}");
        }
        assert!(!t.contains("wJalrXUtnFEMI"), "the secret key is never in a token");
        assert!(token("etl_user", Some("session/token+=")).contains("X-Amz-Security-Token=session%2Ftoken%2B%3D"));
    }

    #[test]
    fn a_user_name_is_encoded_so_that_it_cannot_add_a_parameter() {
        let t = token("a&Action=other b", None);
        assert!(t.contains("DBUser=a%26Action%3Dother%20b&"), "{t}");
    }

    /// botocore's own `generate_db_auth_token` (what lava's getters call),
    /// at the same instant with the same keys, from the test venv
    /// (`./dev setup`).
    fn botocore_token(user: &str, session_token: Option<&str>) -> String {
        let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        let script = r#"
import datetime, sys
from unittest import mock
import botocore.session
user, token = sys.argv[1], sys.argv[2] or None
session = botocore.session.get_session()
session.set_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token)
client = session.create_client("rds", region_name="eu-west-1")
with mock.patch("botocore.auth.get_current_datetime", return_value=datetime.datetime(2023, 11, 14, 22, 13, 20)):
    print(client.generate_db_auth_token("db.example.eu-west-1.rds.amazonaws.com", 5432, user), end="")
"#;
        let out = std::process::Command::new(&python)
            .args(["-c", script, user, session_token.unwrap_or_default()])
            .output()
            .unwrap_or_else(|e| panic!("{} (run ./dev setup): {e}", python.display()));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_token_is_byte_for_byte_the_one_botocore_makes() {
        for (user, session_token) in [("etl_user", None), ("a&Action=other b/é", Some("session/token+="))] {
            assert_eq!(token(user, session_token), botocore_token(user, session_token), "{user}");
        }
    }
}
