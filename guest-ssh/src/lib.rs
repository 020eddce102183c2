//! lava's ssh family as one component: `ssh`, `scp`, `sftp` and `git`
//! (lava 8.3.0, `lava/connection/ssh.py`). The spec names an SSM parameter
//! holding a private key, and SSH options; the job names the destination,
//! and gets the host's stand-in for its kind (`git` over the same `ssh`).
//!
//! ```json
//! {"conn_id": "deploy", "type": "ssh", "enabled": true,
//!  "ssh_key": "/lava/prod/deploy/key", "ssh_options": ["StrictHostKeyChecking=no"]}
//! ```

use lava_guest_kit::{
    Capability, Connector, Host, JobContext, LauncherKind, Login, Need, Problem, Resolved, Spec, ValidateContext,
};
use lava_rules::{ssh, sts};

/// The connector.
#[derive(Default)]
pub struct Ssh;

lava_guest_kit::export_connector!(Ssh);

/// An ssh-family connection's fields, as lava 8.3.0 reads them.
#[derive(Spec)]
pub struct SshSpec {
    r#type: String,
    /// The NAME of an SSM SecureString parameter holding the private key
    /// (line breaks may be stored as commas, as lava allows).
    pub ssh_key: String,
    /// SSH options, each `Name=value` (ssh's `-o` text); only options that
    /// run no program, read no file and reach no other host.
    pub ssh_options: Option<Vec<String>>,
    /// Who owns the connection.
    pub owner: Option<String>,
}

impl Connector for Ssh {
    const TYPE: &'static str = "ssh";
    const TYPES: &'static [&'static str] = &["ssh", "scp", "sftp", "git"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// The key, from SSM, as far as the worker's policy allows.
    const NEEDS: &'static [Need] = &[Need::any(Capability::Ssm)];
    type Spec = SshSpec;

    fn check(&self, spec: &SshSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        if let Some(message) = sts::ssm_name_problem(&spec.ssh_key) {
            let hint = "(ssh_key is the NAME of an SSM parameter holding the key, not the key)";
            problems.push(Problem::error("ssh_key", format!("{message} {hint}")));
        }
        for (i, text) in spec.ssh_options.iter().flatten().enumerate() {
            let field = format!("ssh_options[{i}]");
            match ssh::split_option(text) {
                None => problems.push(Problem::error(&field, format!("`{text}` must be `Name=value`"))),
                Some((name, value)) => {
                    if let Some(problem) = ssh::option_problem(name, value) {
                        problems.push(Problem::error(&field, format!("SSH option `{name}` {problem}")));
                    }
                }
            }
        }
    }

    fn resolve(&self, spec: SshSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let key = host
            .get_parameter(&spec.ssh_key)
            .map_err(|e| format!("ssh_key: cannot read SSM parameter `{}`: {e}", spec.ssh_key))?;
        let ssh_options = spec
            .ssh_options
            .iter()
            .flatten()
            .filter_map(|text| ssh::split_option(text))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let login = Login {
            // lava stores keys on one line, line breaks as commas.
            private_key: Some(key.replace(',', "\n")),
            ssh_options,
            ..Login::default()
        };
        let launcher = match spec.r#type.to_ascii_lowercase().as_str() {
            "scp" => LauncherKind::Scp,
            "sftp" => LauncherKind::Sftp,
            "git" => LauncherKind::Git,
            _ => LauncherKind::Ssh,
        };
        Ok(Resolved { launcher: Some(launcher), login: Some(login), ..Resolved::default() })
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::testing::FakeHost;
    use lava_guest_kit::{RawConnector, Severity};
    use serde_json::{Value, json};

    use super::*;

    fn validate(spec: &Value) -> Vec<(String, Severity, String)> {
        let problems = Ssh.validate_json(&spec.to_string(), &ValidateContext::default(), &FakeHost::default());
        problems.into_iter().map(|p| (p.field, p.severity, p.message)).collect()
    }

    fn spec(connector_type: &str) -> Value {
        json!({"conn_id": "deploy", "type": connector_type, "enabled": true, "ssh_key": "/lava/prod/deploy/key",
               "ssh_options": ["StrictHostKeyChecking=no", "ConnectTimeout 10"]})
    }

    fn job() -> JobContext {
        JobContext { realm: "prod".into(), job_id: "j1".into(), conn_id: "deploy".into(), ..JobContext::default() }
    }

    #[test]
    fn every_type_of_the_family_validates_and_gets_its_own_stand_in() {
        let host =
            FakeHost::default().with_parameter("/lava/prod/deploy/key", "-----BEGIN KEY-----,AAAA,-----END KEY-----");
        for (connector_type, launcher) in [
            ("ssh", LauncherKind::Ssh),
            ("scp", LauncherKind::Scp),
            ("sftp", LauncherKind::Sftp),
            ("git", LauncherKind::Git),
        ] {
            assert_eq!(validate(&spec(connector_type)), vec![], "{connector_type}");
            let resolved = Ssh.resolve_json(&spec(connector_type).to_string(), &job(), &host).unwrap();
            assert_eq!(resolved.launcher, Some(launcher));
            let login = resolved.login.unwrap();
            assert_eq!(login.private_key.as_deref(), Some("-----BEGIN KEY-----\nAAAA\n-----END KEY-----"));
            let options =
                [("StrictHostKeyChecking".to_string(), "no".to_string()), ("ConnectTimeout".into(), "10".into())];
            assert_eq!(login.ssh_options, options);
        }
    }

    #[test]
    fn an_option_that_runs_a_program_or_has_no_value_is_refused_at_validate() {
        let bad = json!({"conn_id": "d", "type": "ssh", "enabled": true, "ssh_key": "/lava/prod/k",
            "ssh_options": ["ProxyCommand=sh -c 'id > /tmp/pwned'", "BatchMode", "LogLevel=ERROR"]});
        let problems = validate(&bad);
        let fields: Vec<&str> = problems.iter().map(|(f, ..)| f.as_str()).collect();
        assert_eq!(fields, ["ssh_options[0]", "ssh_options[1]"], "{problems:?}");
        assert!(problems[0].2.starts_with("SSH option `ProxyCommand` is refused"), "{problems:?}");
    }

    #[test]
    fn the_key_is_required_as_lava_requires_it_and_options_must_be_a_list() {
        let bare = json!({"conn_id": "d", "type": "git", "enabled": true});
        assert_eq!(validate(&bare)[0].0, "ssh_key");
        let not_a_list = json!({"conn_id": "d", "type": "ssh", "enabled": true, "ssh_key": "/k", "ssh_options": "x"});
        assert_eq!(validate(&not_a_list)[0].0, "ssh_options");
    }
}
