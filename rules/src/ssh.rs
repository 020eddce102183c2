//! Which SSH options a connection may set: the host checks every login's
//! options against this before it writes a stand-in, and connectors check
//! specs against it so that `validate` says so first.

/// SSH options a login may set: none runs a program, reads or writes a
/// file, forwards anything or reaches another host (`UpdateHostKeys`
/// writes the known-hosts file; relaxed host-key checking gets
/// `UserKnownHostsFile=/dev/null` from the host). Everything else
/// (`ProxyCommand`, `LocalCommand`, `KnownHostsCommand`, `Match`,
/// `Include`, `IdentityFile`, `ProxyJump`, forwardings, …) is refused:
/// an allow-list, so that an option OpenSSH adds later is refused too.
pub const SAFE_SSH_OPTIONS: &[&str] = &[
    "addressfamily",
    "batchmode",
    "checkhostip",
    "ciphers",
    "compression",
    "connectionattempts",
    "connecttimeout",
    "hostkeyalgorithms",
    "identitiesonly",
    "kexalgorithms",
    "loglevel",
    "macs",
    "preferredauthentications",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "serveraliveinterval",
    "serveralivecountmax",
    "stricthostkeychecking",
    "tcpkeepalive",
    "verifyhostkeydns",
];

/// The one `UserKnownHostsFile` a login may name: lava's specs commonly
/// turn host key files off with it.
pub const NO_KNOWN_HOSTS: &str = "/dev/null";

/// Why an option may not be set, completing "SSH option `Name` …"; `None`
/// when it may.
pub fn option_problem(name: &str, value: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let allowed =
        SAFE_SSH_OPTIONS.contains(&lower.as_str()) || (lower == "userknownhostsfile" && value == NO_KNOWN_HOSTS);
    if !allowed {
        return Some(format!(
            "is refused: only options that run no program, read no file and reach no other host may be set \
             ({}, and UserKnownHostsFile={NO_KNOWN_HOSTS})",
            SAFE_SSH_OPTIONS.join(", ")
        ));
    }
    if !is_option_text(value) {
        return Some(format!("value `{value}` is not printable text without spaces, quotes, `\\` or `%`"));
    }
    None
}

/// Text ssh reads as one option value: printable, no spaces or quotes
/// (ssh splits and unquotes option text), no `%` (ssh expands tokens).
fn is_option_text(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic()) && !text.contains(['%', '"', '\'', '\\'])
}

/// lava's `ssh_options` item (`-o` text: `Name=value`, or `Name value`) as
/// its name and value; `None` when it has no value.
pub fn split_option(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    let at = text.find(|c: char| c == '=' || c.is_whitespace())?;
    let (name, value) = (&text[..at], text[at + 1..].trim_start_matches(|c: char| c == '=' || c.is_whitespace()));
    (!name.is_empty() && !value.is_empty()).then_some((name, value.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lavas_option_text_splits_at_the_first_equals_or_space() {
        assert_eq!(split_option("StrictHostKeyChecking=no"), Some(("StrictHostKeyChecking", "no")));
        assert_eq!(split_option(" ConnectTimeout 10 "), Some(("ConnectTimeout", "10")));
        assert_eq!(split_option("ConnectTimeout = 10"), Some(("ConnectTimeout", "10")));
        assert_eq!(split_option("BatchMode"), None);
        assert_eq!(split_option("=yes"), None);
    }

    #[test]
    fn only_allowed_options_with_plain_values_pass() {
        assert_eq!(option_problem("StrictHostKeyChecking", "no"), None);
        assert_eq!(option_problem("UserKnownHostsFile", "/dev/null"), None);
        assert!(option_problem("ProxyCommand", "nc %h %p").unwrap().starts_with("is refused"));
        assert!(option_problem("UserKnownHostsFile", "/tmp/x").is_some());
        assert!(option_problem("ConnectTimeout", "1 0").unwrap().starts_with("value"));
    }
}
