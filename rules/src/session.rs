//! STS role-session names, as lava derives them.

use unicode_normalization::UnicodeNormalization;

/// The worker's default `CONN_APP_NAME`.
pub const DEFAULT_TEMPLATE: &str = "lv-{{ realm }}-{{ job_id }}";

/// The name lava uses when an input is missing, and ours when cleansing leaves
/// fewer than the two characters STS requires.
pub const FALLBACK_NAME: &str = "lava";

/// STS limit on role-session names.
pub const MAX_LEN: usize = 64;

/// Render `template` for the job and cleanse the result into a valid session name.
///
/// Matches lava wherever lava's name is valid. lava can produce an empty or
/// one-character name (an id made only of punctuation, for example), which STS
/// rejects; we return [`FALLBACK_NAME`] instead.
pub fn session_name(template: &str, realm: &str, job_id: &str, conn_id: &str) -> Result<String, String> {
    if template.is_empty() || realm.is_empty() || job_id.is_empty() || conn_id.is_empty() {
        return Ok(FALLBACK_NAME.to_string());
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let rendered = env
        .render_str(template, minijinja::context! { realm => realm, job_id => job_id, conn_id => conn_id })
        .map_err(|e| {
            format!(
                "template `{template}` cannot be rendered: {e}; \
                 it may use `realm`, `job_id` and `conn_id`"
            )
        })?;
    let name = cleanse(&rendered);
    Ok(if name.len() < 2 { FALLBACK_NAME.to_string() } else { name })
}

/// lava's cleansing: drop quotes and backslashes, fold to ASCII (NFKD, drop the
/// rest), turn each run of other characters into one `.`, drop leading
/// characters that are not `[A-Za-z0-9_]`, cut to 64 characters.
pub fn cleanse(text: &str) -> String {
    let ascii = text.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).nfkd().filter(char::is_ascii);
    let mut out = String::with_capacity(text.len().min(4 * MAX_LEN));
    let mut in_run = false;
    for c in ascii {
        if is_session_char(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('.');
            in_run = true;
        }
    }
    let start = out.find(|c: char| c.is_ascii_alphanumeric() || c == '_').unwrap_or(out.len());
    // Everything left is ASCII, so byte and character counts agree.
    out[start..].chars().take(MAX_LEN).collect()
}

/// Whether `c` is one lava keeps in a session name: `[A-Za-z0-9_=,.@-]`.
fn is_session_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ',' | '.' | '@' | '-')
}

/// Whether `name` is one STS accepts: 2 to 64 characters of `[\w+=,.@-]`.
pub fn is_valid_session_name(name: &str) -> bool {
    (2..=MAX_LEN).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(realm: &str, job: &str) -> String {
        session_name(DEFAULT_TEMPLATE, realm, job, "conn").unwrap()
    }

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(name("prod", "daily-load"), "lv-prod-daily-load");
        assert_eq!(name("prod", "a_b=c,d.e@f"), "lv-prod-a_b=c,d.e@f");
    }

    #[test]
    fn folds_unicode_to_ascii() {
        assert_eq!(name("prod", "café-crème"), "lv-prod-cafe-creme");
        assert_eq!(name("prod", "ﬁle"), "lv-prod-file");
        assert_eq!(name("prod", "ＡＢＣ１２３"), "lv-prod-ABC123");
        assert_eq!(name("prod", "Ångström"), "lv-prod-Angstrom");
    }

    #[test]
    fn replaces_runs_of_other_characters_with_one_dot() {
        assert_eq!(name("prod", "a b/c  d"), "lv-prod-a.b.c.d");
        assert_eq!(name("prod", "データ処理"), "lv-prod-");
        assert_eq!(name("prod", "a データ b"), "lv-prod-a.b");
        assert_eq!(name("prod", "load🚀now"), "lv-prod-loadnow");
        assert_eq!(name("prod", "x+y"), "lv-prod-x.y");
    }

    #[test]
    fn removes_quotes_and_backslashes_before_anything_else() {
        assert_eq!(name("prod", r#"it's "q" a\b"#), "lv-prod-its.q.ab");
    }

    #[test]
    fn drops_leading_characters_that_cannot_start() {
        let n = session_name("{{ job_id }}", "prod", "--.@xy", "c").unwrap();
        assert_eq!(n, "xy");
    }

    #[test]
    fn too_short_results_fall_back() {
        assert_eq!(session_name("{{ job_id }}", "prod", "!!!", "c").unwrap(), FALLBACK_NAME);
        assert_eq!(session_name("{{ job_id }}", "prod", "é", "c").unwrap(), FALLBACK_NAME);
        assert_eq!(session_name("{{ job_id }}", "prod", "ab", "c").unwrap(), "ab");
    }

    #[test]
    fn empty_inputs_give_lava() {
        assert_eq!(name("", "job"), "lava");
        assert_eq!(name("prod", ""), "lava");
        assert_eq!(session_name("", "prod", "job", "c").unwrap(), "lava");
        assert_eq!(session_name(DEFAULT_TEMPLATE, "prod", "job", "").unwrap(), "lava");
    }

    #[test]
    fn cuts_to_64() {
        let n = name("prod", &"x".repeat(100));
        assert_eq!(n.len(), 64);
        assert!(n.starts_with("lv-prod-xxx"));
    }

    #[test]
    fn templates_see_conn_id() {
        let n = session_name("{{ conn_id }}@{{ realm }}", "prod", "j", "my conn").unwrap();
        assert_eq!(n, "my.conn@prod");
    }

    #[test]
    fn bad_templates_are_reported() {
        let err = session_name("{{ nope }}", "prod", "j", "c").unwrap_err();
        assert!(err.contains("{{ nope }}"), "{err}");
        assert!(session_name("{{ realm ", "prod", "j", "c").is_err());
    }

    #[test]
    fn every_result_is_valid() {
        for job in ["", "a", "é", "データ", "🚀", "''", "\\\\", "....", "x".repeat(200).as_str(), "ok"] {
            let n = name("r", job);
            assert!(is_valid_session_name(&n), "{job:?} -> {n:?}");
        }
    }
}
