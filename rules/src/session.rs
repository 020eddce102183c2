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
    let rendered = match render_plain(template, realm, job_id, conn_id) {
        Some(rendered) => rendered,
        None => render_with_minijinja(template, realm, job_id, conn_id)?,
    };
    let name = cleanse(&rendered);
    Ok(if name.len() < 2 { FALLBACK_NAME.to_string() } else { name })
}

/// Whether `template` parses, within the engine's nesting limit: checked
/// when a worker's configuration is loaded. Rendering can still fail for a
/// job (an undefined variable, a filter refusing its input), and is then the
/// error of that call.
pub fn check_template(template: &str) -> Result<(), String> {
    if render_plain(template, "realm", "job", "conn").is_some() {
        return Ok(());
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let parsed = env.template_from_str(template).map_err(|e| {
        format!("template `{template}` cannot be parsed: {e}; it may use `realm`, `job_id` and `conn_id`")
    })?;
    // A name it does not know fails every job alike: said now, not per call.
    match parsed.render(minijinja::context! { realm => "realm", job_id => "job", conn_id => "conn" }) {
        Err(e) if e.kind() == minijinja::ErrorKind::UndefinedError => Err(format!(
            "template `{template}` names what is not defined: {e}; it may use `realm`, `job_id` and `conn_id`"
        )),
        _ => Ok(()),
    }
}

/// Render `template` with the template engine, as lava does (Jinja).
pub fn render_with_minijinja(template: &str, realm: &str, job_id: &str, conn_id: &str) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.render_str(template, minijinja::context! { realm => realm, job_id => job_id, conn_id => conn_id }).map_err(
        |e| {
            format!(
                "template `{template}` cannot be rendered: {e}; \
             it may use `realm`, `job_id` and `conn_id`"
            )
        },
    )
}

/// Render a template that is only text and `{{ realm }}`, `{{ job_id }}` or
/// `{{ conn_id }}` (the default, and every template lava documents) without
/// the engine: building a minijinja environment was a quarter of a sandboxed
/// resolve. `None` for anything else (filters, tags, comments, whitespace
/// control, other names), which [`render_with_minijinja`] renders. Both give
/// the same text wherever this gives one: a table test and the
/// `session_name` fuzz target compare them.
pub fn render_plain(template: &str, realm: &str, job_id: &str, conn_id: &str) -> Option<String> {
    // The engine drops a trailing `\n`, then a trailing `\r`, of the source.
    let source = template.strip_suffix('\n').unwrap_or(template);
    let source = source.strip_suffix('\r').unwrap_or(source);
    let mut out = String::with_capacity(source.len() + realm.len() + job_id.len());
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        match tail.as_bytes().get(1) {
            Some(b'{') => {
                let close = tail.find("}}")?;
                let value = match tail[2..close].trim_matches(|c: char| c.is_ascii_whitespace()) {
                    "realm" => realm,
                    "job_id" => job_id,
                    "conn_id" => conn_id,
                    _ => return None,
                };
                out.push_str(value);
                rest = &tail[close + 2..];
            }
            Some(b'%' | b'#') => return None,
            _ => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Some(out)
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

    /// The boundaries, judged by STS's documented pattern in Python's `re`
    /// (`[\w+=,.@-]{2,64}` with `re.ASCII`), not by the function under test.
    #[test]
    fn session_name_boundaries_match_stss_pattern() {
        let cases = ["a", "ab", &"a".repeat(64), &"a".repeat(65), "é1", "a b", "a_b+c=d,e.f@g-h", "", "a\n", "ab/"];
        let script = "import json, re, sys\n\
            print(json.dumps([bool(re.fullmatch(r'[\\w+=,.@-]{2,64}', c, re.ASCII)) for c in json.load(sys.stdin)]))";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), serde_json::to_string(&cases).unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let expected: Vec<bool> = serde_json::from_slice(&out.stdout).expect("python printed JSON");
        assert_eq!(expected, [false, true, true, false, false, false, true, false, false, false]);
        for (case, want) in cases.iter().zip(expected) {
            assert_eq!(is_valid_session_name(case), want, "{case:?}");
        }
    }

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
    fn plain_rendering_matches_the_engine() {
        let plain = [
            DEFAULT_TEMPLATE,
            "{{realm}}{{job_id}}{{conn_id}}",
            "{{\trealm\n}}-x",
            "lv-{{ realm }}-{{ job_id }}\n",
            "lv-{{ realm }}\r\n",
            "lv-{{ realm }}\n\n",
            "lv-{{ realm }}\r",
            "\r\r\n",
            "a { b } {x} }} {{ job_id }}",
            "{",
            "}}",
            "no variables at all",
            "é-{{ conn_id }}-ü",
            "",
        ];
        for template in plain {
            let fast = render_plain(template, "pr od", "jo{b}\n", "c\"d").expect(template);
            let engine = render_with_minijinja(template, "pr od", "jo{b}\n", "c\"d").unwrap();
            assert_eq!(fast, engine, "{template:?}");
        }
        let for_the_engine = [
            "{{ realm|upper }}",
            "{{- realm }}",
            "{{ realm -}} x",
            "{{ other }}",
            "{% if realm %}x{% endif %}",
            "{# note #}{{ realm }}",
            "{{ realm ",
            "{{ 'a' }}",
            "{{ realm ~ job_id }}",
        ];
        for template in for_the_engine {
            assert_eq!(render_plain(template, "p", "j", "c"), None, "{template:?}");
        }
    }

    #[test]
    fn every_result_is_valid() {
        for job in ["", "a", "é", "データ", "🚀", "''", "\\\\", "....", "x".repeat(200).as_str(), "ok"] {
            let n = name("r", job);
            assert!(is_valid_session_name(&n), "{job:?} -> {n:?}");
        }
    }
}
