//! What a database login's text fields may hold: the host refuses a login
//! that breaks these before it writes a stand-in, and connectors check specs
//! against them so that `validate` says so first.

/// Why `text` may not be a login's user, database, TLS mode or application
/// name (each reaches a client's argument or file line), completing "the
/// user …"; `None` when it may.
pub fn word_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() || text.len() > 1024 {
        return Some("is empty or longer than 1024 bytes");
    }
    if text.chars().any(char::is_control) {
        return Some("holds a control character or line break");
    }
    if text.starts_with('-') {
        return Some("starts with `-`, which a client would read as an option");
    }
    None
}

/// Why `host` may not be a login's host: a word, of letters, digits, `.`,
/// `-`, `_` and `:` (IPv6); `None` when it may.
pub fn host_problem(host: &str) -> Option<&'static str> {
    word_problem(host).or_else(|| {
        let name = host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        (!name).then_some("is not a host name or address")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_one_line_and_no_option() {
        assert_eq!(word_problem("etl"), None);
        assert!(word_problem("").is_some());
        assert!(word_problem("a\nb").unwrap().contains("control"));
        assert!(word_problem("-oProxyCommand=x").unwrap().contains("option"));
        assert_eq!(host_problem("db.example.com"), None);
        assert_eq!(host_problem("::1"), None);
        assert_eq!(host_problem("db example"), Some("is not a host name or address"));
    }
}
