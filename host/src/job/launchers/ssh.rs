//! `ssh`, `scp`, `sftp` and `git`: lava's stand-ins over an SSH key. The
//! key is a 0600 file, and the client gets `-o Name=value` for each option
//! and `-i <key>`; `git` gets the same `ssh` command in `GIT_SSH_COMMAND`.
//! The job names the destination, as with lava's. Where lava's stand-ins
//! are unsafe the host is not: an option that runs a program, reads a file
//! or reaches another host is refused (lava passed `ProxyCommand` through),
//! and `GIT_SSH_COMMAND` is quoted for the shell git runs it with (lava's
//! quoting let an option's `$(…)` run when the script did).

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{Script, path_text};
use crate::folders::write_private;
use crate::results::{LauncherKind, Login};
use crate::sanitizer::sanitize;

/// An SSH option name and value a login may set: `lava_rules::ssh`, the
/// one rule, which the connectors check specs against too.
pub(super) fn check_option(name: &str, value: &str) -> Result<(), String> {
    match lava_rules::ssh::option_problem(name, value) {
        None => Ok(()),
        Some(problem) => Err(format!("SSH option `{}` {}", sanitize(name), sanitize(&problem))),
    }
}

/// The kind's own rules beside its shape: the user becomes an option, and
/// reaches `%r` in the job user's own ssh configuration (a `ProxyCommand`,
/// a `Match exec`), so it is a user name's characters only.
pub(super) fn check(login: &Login) -> Result<(), String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    match login.user.as_deref() {
        Some(user) if !user.chars().all(is_name_char) => Err(format!(
            "user `{}` holds a character other than letters, digits, `.`, `_`, `-` and `@`",
            sanitize(user)
        )),
        _ => Ok(()),
    }
}

/// The key's path as ssh reads an identity file. ssh checks the path it
/// was given, then loads it with `%` tokens and `${VARIABLE}` expanded, so
/// a path holding either would load another file (one the job's
/// environment chooses) or none, and no escape serves both steps: such a
/// folder is refused, naming the fix.
fn identity_path(key: &Path) -> std::io::Result<String> {
    let text = path_text(key);
    if text.contains(['$', '%']) {
        return Err(std::io::Error::other(format!(
            "the work folder {} holds `$` or `%`, which ssh would expand in the key's path: choose another \
             (--workdir)",
            sanitize(&text)
        )));
    }
    Ok(text)
}

/// `/dev/null` as the known-hosts file when the login relaxes host-key
/// checking (`StrictHostKeyChecking` `no` or `accept-new`) and names none:
/// ssh would otherwise write the keys it accepted into the job user's own
/// `~/.ssh/known_hosts`, which the user's later ssh sessions trust.
fn no_known_hosts(login: &Login) -> Option<&'static str> {
    let is = |name: &str, wanted: &str| name.eq_ignore_ascii_case(wanted);
    let relaxed = login.ssh_options.iter().any(|(name, value)| {
        is(name, "stricthostkeychecking") && ["no", "off", "accept-new"].iter().any(|v| value.eq_ignore_ascii_case(v))
    });
    let named = login.ssh_options.iter().any(|(name, _)| is(name, "userknownhostsfile"));
    (relaxed && !named).then_some(lava_rules::ssh::NO_KNOWN_HOSTS)
}

/// Write the stand-in into `folder`; returns the script, named as the kind.
pub(super) fn write(kind: LauncherKind, folder: &Path, conn_id: &str, login: &Login) -> std::io::Result<PathBuf> {
    let key = folder.join("ssh.pem");
    let mut text = login.private_key.as_ref().map(|k| k.expose_secret().to_string()).unwrap_or_default();
    // OpenSSH refuses a key whose last line has no line break.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    write_private(&key, text.as_bytes(), 0o600)?;
    let mut args = Vec::new();
    let port = login.port.map(|p| p.to_string());
    let set = login.ssh_options.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let own =
        [("User", login.user.as_deref()), ("Port", port.as_deref()), ("UserKnownHostsFile", no_known_hosts(login))];
    for (name, value) in set.chain(own.into_iter().filter_map(|(n, v)| v.map(|v| (n, v)))) {
        args.extend(["-o".to_string(), format!("{name}={value}")]);
    }
    args.extend(["-i".to_string(), identity_path(&key)?]);
    let mut script = Script::new(kind.as_str(), conn_id);
    if kind == LauncherKind::Git {
        // Git runs this through `sh -c`: quoted once for that shell, once
        // more for this script's `export`.
        script
            .export("GIT_CONFIG_NOSYSTEM", "1")
            .export("GIT_SSH_COMMAND", &Script::words("ssh", &args))
            .export("GIT_TERMINAL_PROMPT", "0")
            .exec("git", &[]);
    } else {
        script.exec(kind.as_str(), &args);
    }
    script.write(folder, kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fakes, modes, output};
    use super::*;

    /// Shell code in a folder's name, without the `$` and `%` ssh expands
    /// (a folder with those is refused).
    const SSH_HOSTILE_NAME: &str = "it's `touch pwned` \"q\" ;touch pwned";

    fn login() -> Login {
        Login {
            user: Some("deploy".into()),
            port: Some(2222),
            private_key: Some("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----".into()),
            ssh_options: vec![
                ("StrictHostKeyChecking".into(), "no".into()),
                ("UserKnownHostsFile".into(), "/dev/null".into()),
            ],
            ..Login::default()
        }
    }

    fn expected_args(key: &Path) -> Vec<String> {
        [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "User=deploy",
            "-o",
            "Port=2222",
            "-i",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([key.display().to_string()])
        .collect()
    }

    #[test]
    fn ssh_scp_and_sftp_get_the_options_and_a_private_key_file_whatever_the_folder_is_called() {
        for kind in [LauncherKind::Ssh, LauncherKind::Scp, LauncherKind::Sftp] {
            let fakes = Fakes::named(&[kind.as_str()], SSH_HOSTILE_NAME);
            let script = write(kind, &fakes.folder(), "box", &login()).unwrap();
            assert_eq!(script.file_name().unwrap(), kind.as_str());
            let seen = fakes.run(&script, &["host.example.com", "uptime"], "", &[]);
            let key = fakes.folder().join("ssh.pem");
            let mut want = expected_args(&key);
            want.extend(["host.example.com".into(), "uptime".into()]);
            assert_eq!(seen.args[1..], want, "{kind:?}");
            assert!(std::fs::read_to_string(&key).unwrap().ends_with("KEY-----\n"), "a final line break added");
            assert_eq!(modes(&fakes.folder())["ssh.pem"], 0o600);
        }
    }

    #[test]
    fn relaxed_host_key_checking_writes_nothing_into_the_job_users_known_hosts() {
        for relaxed in ["no", "accept-new", "OFF"] {
            let login = Login {
                private_key: Some("k".into()),
                ssh_options: vec![("StrictHostKeyChecking".into(), relaxed.into())],
                ..Login::default()
            };
            assert_eq!(no_known_hosts(&login), Some("/dev/null"), "{relaxed}");
        }
        let strict = Login { ssh_options: vec![("StrictHostKeyChecking".into(), "yes".into())], ..Login::default() };
        assert_eq!(no_known_hosts(&strict), None);
        assert_eq!(no_known_hosts(&login()), None, "the login names its own known-hosts file");
    }

    #[test]
    fn git_runs_ssh_with_the_same_arguments_through_its_own_shell() {
        let fakes = Fakes::named(&["ssh"], SSH_HOSTILE_NAME);
        let script = write(LauncherKind::Git, &fakes.folder(), "repo", &login()).unwrap();
        // The real git, which runs GIT_SSH_COMMAND with `sh -c`; the fake ssh records.
        let (seen, _) = fakes.run_any(&script, &["ls-remote", "ssh://git.example.com/repo.git"], "", &[]);
        let key = fakes.folder().join("ssh.pem");
        let want = expected_args(&key);
        assert_eq!(seen.args[1..=want.len()], want[..], "{:?}", seen.args);
        assert!(seen.args.iter().any(|a| a == "git.example.com"), "{:?}", seen.args);
        assert_eq!(seen.var("GIT_TERMINAL_PROMPT"), Some("0"));
        assert_eq!(seen.var("GIT_CONFIG_NOSYSTEM"), Some("1"));
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(
            text.contains(&super::super::quote_word(&path_text(&key)).replace('\'', "'\\''")),
            "quoted twice: {text}"
        );
    }

    #[test]
    fn the_real_ssh_reads_the_options_and_the_key_as_given() {
        let fakes = Fakes::named(&[], SSH_HOSTILE_NAME);
        let script = write(LauncherKind::Ssh, &fakes.folder(), "box", &login()).unwrap();
        // `-G` prints the configuration ssh would use, and connects nowhere.
        let out = match output(std::process::Command::new(&script).args(["-G", "host.example.com"])) {
            out if out.status.success() => out,
            other => {
                assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "ssh -G failed: {other:?}");
                return;
            }
        };
        let config = String::from_utf8_lossy(&out.stdout);
        let key = fakes.folder().join("ssh.pem").display().to_string();
        for line in [
            "user deploy".to_string(),
            "port 2222".into(),
            "stricthostkeychecking false".into(),
            "userknownhostsfile /dev/null".into(),
            format!("identityfile {key}"),
        ] {
            assert!(config.lines().any(|l| l == line), "`{line}` in:\n{config}");
        }
        fakes.assert_nothing_ran();
    }

    #[test]
    fn a_folder_ssh_would_expand_is_refused_naming_the_fix() {
        let root = tempfile::tempdir().unwrap();
        for name in ["w%d", "w${HOME}"] {
            let folder = root.path().join(name);
            std::fs::create_dir(&folder).unwrap();
            let error = write(LauncherKind::Ssh, &folder, "box", &login()).unwrap_err().to_string();
            assert!(error.contains(name) && error.contains("--workdir"), "{error}");
        }
    }

    #[test]
    fn a_user_ssh_would_split_or_expand_is_refused() {
        for user in ["a b", "%u", "x'y", "a;b", "$(id)", "${HOME}"] {
            assert!(check(&Login { user: Some(user.into()), ..login() }).is_err(), "{user}");
        }
    }

    #[test]
    fn ssh_options_are_an_allow_list_of_options_that_run_nothing_and_read_nothing() {
        for (name, value) in [
            ("StrictHostKeyChecking", "no"),
            ("userknownhostsfile", "/dev/null"),
            ("ConnectTimeout", "10"),
            ("ServerAliveInterval", "30"),
        ] {
            assert_eq!(check_option(name, value), Ok(()), "{name}={value}");
        }
        for (name, value) in [
            ("ProxyCommand", "sh -c id"),
            ("proxycommand", "nc"),
            ("LocalCommand", "id"),
            ("PermitLocalCommand", "yes"),
            ("KnownHostsCommand", "/bin/id"),
            ("Match", "exec id"),
            ("Include", "/etc/passwd"),
            ("IdentityFile", "/root/.ssh/id_rsa"),
            ("ProxyJump", "evil"),
            ("UserKnownHostsFile", "/tmp/x"),
            ("ForwardAgent", "yes"),
            ("LocalForward", "1:h:2"),
            ("SendEnv", "*"),
        ] {
            let refused = check_option(name, value).expect_err(name);
            assert!(refused.contains("is refused"), "{refused}");
        }
        for value in ["a b", "%h", "x\"y", ""] {
            assert!(check_option("ConnectTimeout", value).is_err(), "{value:?}");
        }
    }
}
