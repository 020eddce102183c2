//! `aws-cli`: lava's AWS CLI stand-in. `.aws_config` holds the connection's
//! profile `lava`, an empty `.aws_credentials` keeps a `[lava]` profile in
//! the user's own credentials file from overriding it, and the script runs
//! `aws --profile lava "$@"` with both named.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{Script, path_text};
use crate::folders::write_private;
use crate::results::AwsCredentials;

/// Variables that would override the stand-in's profile if the job's
/// environment had them; the stand-in unsets them before it runs `aws`.
const STALE_AWS_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// Write the stand-in into `folder`; returns the script `aws`.
pub(super) fn write(folder: &Path, conn_id: &str, aws: &AwsCredentials) -> std::io::Result<PathBuf> {
    let config = folder.join(".aws_config");
    let credentials = folder.join(".aws_credentials");
    write_private(&config, config_file(aws).as_bytes(), 0o600)?;
    write_private(&credentials, b"", 0o600)?;
    // A region the connection does not set is the job's own to choose.
    let stale: Vec<&str> =
        STALE_AWS_VARIABLES.iter().copied().filter(|v| aws.region.is_some() || !v.ends_with("REGION")).collect();
    let mut script = Script::new("the AWS CLI", conn_id);
    script.line(&format!("unset {}", stale.join(" ")));
    if aws.endpoint_url.is_some() {
        // The variables beat the profile's `endpoint_url`: the connection's wins.
        script.unset_all(&["AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"], &[]);
    }
    script
        .export("AWS_CONFIG_FILE", &path_text(&config))
        .export("AWS_SHARED_CREDENTIALS_FILE", &path_text(&credentials))
        .exec("aws", &["--profile".into(), "lava".into()])
        .write(folder, "aws")
}

/// The body of lava's `.aws_config` for a connection: one `[profile lava]`.
/// Every value was checked at the plugin boundary (no line breaks, a region
/// of AWS's shape, an allowed endpoint), so none can add a line of its own.
pub(crate) fn config_file(aws: &AwsCredentials) -> String {
    let mut out = String::from("[profile lava]\n");
    let _ = writeln!(out, "aws_access_key_id = {}", aws.access_key_id);
    let _ = writeln!(out, "aws_secret_access_key = {}", aws.secret_access_key.expose_secret());
    if let Some(token) = &aws.session_token {
        let _ = writeln!(out, "aws_session_token = {}", token.expose_secret());
    }
    if let Some(region) = &aws.region {
        let _ = writeln!(out, "region = {region}");
    }
    if let Some(endpoint) = &aws.endpoint_url {
        let _ = writeln!(out, "endpoint_url = {endpoint}");
    }
    out.push_str("s3 =\n    signature_version = s3v4\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::credentials;
    use super::*;

    #[test]
    fn the_config_file_matches_lavas_profile() {
        assert_eq!(
            config_file(&credentials(Some("us-east-1"))),
            "[profile lava]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\naws_session_token = TOKEN\n\
             region = us-east-1\ns3 =\n    signature_version = s3v4\n"
        );
    }

    #[test]
    fn the_stand_in_script_is_host_text_whatever_the_conn_id() {
        let folder = tempfile::tempdir().unwrap();
        let script = write(folder.path(), "c1\nrm -rf ~ #", &credentials(None)).unwrap();
        let text = std::fs::read_to_string(&script).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[1], "# lava-conn stand-in for the AWS CLI with connection c1 rm -rf ~ #");
        assert!(lines[2].starts_with("unset AWS_ACCESS_KEY_ID ") && !lines[2].contains("REGION"), "{text}");
        assert_eq!(lines[5], "exec aws --profile lava \"$@\"");
        assert_eq!(script.file_name().unwrap(), "aws");
    }
}
