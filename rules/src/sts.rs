//! AWS STS and IAM limits that every connector assuming roles checks. Each
//! check returns what would be valid, for the caller to put behind a field name.

use serde_json::{Map, Value};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// STS `AssumeRole` session length bounds, in seconds.
pub const MIN_DURATION_SECONDS: u32 = 900;
pub const MAX_DURATION_SECONDS: u32 = 43_200;
const MAX_POLICY_ARNS: usize = 10;
const MAX_POLICY_CHARS: usize = 2_048;
const MAX_TAGS: usize = 50;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;
const EXTERNAL_ID_CHARS: std::ops::RangeInclusive<usize> = 2..=1_224;
const MAX_SSM_NAME_CHARS: usize = 2_048;

/// IAM partitions a role ARN may name.
pub const IAM_PARTITIONS: [&str; 5] = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];

/// Whole seconds STS accepts for `seconds` (truncated, as lava does), or why not.
pub fn duration_seconds(seconds: f64) -> Result<u32, String> {
    let whole = seconds.trunc();
    if !(f64::from(MIN_DURATION_SECONDS)..=f64::from(MAX_DURATION_SECONDS)).contains(&whole) {
        return Err(format!(
            "is {whole} s; STS accepts {MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS} seconds (15m to 12h), \
             within the role's maximum session duration"
        ));
    }
    Ok(whole as u32)
}

/// `arn:<partition>:iam::<12 digits>:role/<optional path/>name`, or why not.
pub fn check_role_arn(arn: &str) -> Result<(), String> {
    let valid = iam_resource(arn, false).and_then(|r| r.strip_prefix("role/")).is_some_and(|path_and_name| {
        let (path, name) = path_and_name.rsplit_once('/').unwrap_or(("", path_and_name));
        let name_ok = (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'));
        // IAM paths are `/` or `/segments/`, printable ASCII without spaces.
        let path_ok = path.len() < 512 && path.chars().all(|c| c.is_ascii_graphic()) && !path.contains("//");
        name_ok && path_ok
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{arn}` is not an IAM role ARN: use `arn:<partition>:iam::<12-digit account>:role/<optional path/>name` \
             with partition one of {}",
            IAM_PARTITIONS.join(", ")
        ))
    }
}

/// The role ARN Airflow builds from an account id and a role name.
pub fn role_arn_from_parts(account_id: &str, role_name: &str) -> String {
    format!("arn:aws:iam::{account_id}:role/{role_name}")
}

/// At most ten managed policy ARNs, each `arn:<partition>:iam::<account or aws>:policy/...`.
pub fn check_policy_arns(arns: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if arns.len() > MAX_POLICY_ARNS {
        problems
            .push(format!("has {} ARNs; STS accepts at most {MAX_POLICY_ARNS} managed session policies", arns.len()));
    }
    for arn in arns {
        let valid = (20..=2048).contains(&arn.len())
            && iam_resource(arn, true).and_then(|r| r.strip_prefix("policy/")).is_some_and(|rest| {
                !rest.is_empty() && !rest.ends_with('/') && rest.chars().all(|c| c.is_ascii_graphic())
            });
        if !valid {
            problems.push(format!("`{arn}` is not an IAM policy ARN such as `arn:aws:iam::123456789012:policy/name`"));
        }
    }
    problems
}

/// The resource part of an IAM ARN, after checking partition and account.
fn iam_resource(arn: &str, allow_aws_account: bool) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let account_ok =
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) || (allow_aws_account && account == "aws");
    (IAM_PARTITIONS.contains(&partition) && account_ok).then_some(resource)
}

/// An inline session policy as the compact JSON STS gets, or why it is refused.
/// Also says whether it lacks `Statement` (worth a warning).
pub fn compact_policy(policy: &Map<String, Value>) -> Result<(String, bool), String> {
    let compact = serde_json::to_string(policy).expect("a JSON map always serialises");
    check_policy_text(&compact)?;
    Ok((compact, policy.contains_key("Statement")))
}

/// STS's limits on policy text: 2048 characters of tab, newline, carriage return and U+0020–U+00FF.
pub fn check_policy_text(text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_POLICY_CHARS {
        return Err(format!("is {chars} characters as compact JSON; STS accepts at most {MAX_POLICY_CHARS}"));
    }
    if let Some(c) = text.chars().find(|&c| !matches!(c, '\t' | '\n' | '\r' | ' '..='\u{ff}')) {
        return Err(format!("contains {c:?}; STS accepts only tab, newline, carriage return and U+0020 to U+00FF"));
    }
    Ok(())
}

/// Problems with session tags, as (tag key, or none for the whole map; message): at most 50,
/// key 1–128 and value 0–256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, keys
/// unique ignoring case.
pub fn check_tags(tags: &[(String, String)]) -> Vec<(Option<String>, String)> {
    let mut problems = Vec::new();
    if tags.len() > MAX_TAGS {
        problems.push((None, format!("has {} tags; STS accepts at most {MAX_TAGS} session tags", tags.len())));
    }
    // Ordered, not a `Vec` scan: a spec's tag map is as long as its writer
    // makes it (40,000 tags took the built-in past its 1 s deadline), and
    // not hashed: keys chosen to collide would be as slow (see SECURITY.md).
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in tags {
        let key_chars = key.chars().count();
        if !(1..=MAX_TAG_KEY_CHARS).contains(&key_chars) {
            problems.push((
                Some(key.clone()),
                format!("tag keys must be 1 to {MAX_TAG_KEY_CHARS} characters; this one is {key_chars}"),
            ));
        } else if let Some(c) = key.chars().find(|&c| !is_tag_char(c)) {
            problems.push((
                Some(key.clone()),
                format!("tag key contains {c:?}; allowed are letters, digits, spaces and _ . : / = + - @"),
            ));
        }
        if !seen.insert(key.to_lowercase()) {
            problems.push((
                Some(key.clone()),
                "tag keys must be unique ignoring case; another key differs only in case".into(),
            ));
        }
        let value_chars = value.chars().count();
        if value_chars > MAX_TAG_VALUE_CHARS {
            problems.push((
                Some(key.clone()),
                format!("tag values must be at most {MAX_TAG_VALUE_CHARS} characters; this one is {value_chars}"),
            ));
        } else if let Some(c) = value.chars().find(|&c| !is_tag_char(c)) {
            problems.push((
                Some(key.clone()),
                format!("tag value contains {c:?}; allowed are letters, digits, spaces and _ . : / = + - @"),
            ));
        }
    }
    problems
}

/// Whether `c` may appear in a session tag: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_char(c: char) -> bool {
    // Tags are nearly always ASCII, where the only letters, separators and
    // numbers are these: no table lookup (the sandboxed validate touched the
    // Unicode tables' pages for every tag character).
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@');
    }
    is_letter_separator_or_number(c)
}

/// `[\p{L}\p{Z}\p{N}]`, by the Unicode table.
fn is_letter_separator_or_number(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Separator | GeneralCategoryGroup::Number
    )
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `us-isob-east-1`, …
pub fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else { return false };
    parts.len() >= 3
        && parts[0].len() == 2
        && words.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Why `region` is not a region name, for messages.
pub fn region_problem(region: &str) -> Option<String> {
    (!is_region_name(region))
        .then(|| format!("`{region}` is not an AWS region name such as `us-east-1` or `ap-southeast-2`"))
}

/// Why `id` is not an external ID STS accepts (2 to 1224 characters of `[\w+=,.@:/-]`).
pub fn external_id_problem(id: &str) -> Option<String> {
    let len = id.chars().count();
    if !EXTERNAL_ID_CHARS.contains(&len) {
        return Some(format!(
            "must be {} to {} characters; it is {len}",
            EXTERNAL_ID_CHARS.start(),
            EXTERNAL_ID_CHARS.end()
        ));
    }
    if id
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | ':' | '/' | '-')))
    {
        return Some("contains characters outside letters, digits and _ + = , . @ : / -".to_string());
    }
    None
}

/// Why `name` is not a valid SSM parameter name, if it is not.
pub fn ssm_name_problem(name: &str) -> Option<String> {
    if !name.starts_with('/') {
        return Some(format!("`{name}` must be a full SSM parameter name starting with `/`"));
    }
    if name.len() > MAX_SSM_NAME_CHARS {
        return Some(format!("is {} characters; SSM names are at most {MAX_SSM_NAME_CHARS}", name.len()));
    }
    if let Some(c) = name.chars().find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))) {
        return Some(format!("`{name}` contains {c:?}; SSM names use only letters, digits and _ . - /"));
    }
    if name.ends_with('/') || name.contains("//") {
        return Some(format!("`{name}` is not a parameter name: it has an empty path segment"));
    }
    None
}

/// Whether `url` looks like an endpoint URL (`http://` or `https://` and a host).
pub fn endpoint_url_problem(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace) => None,
        _ => Some(format!("`{url}` is not an endpoint URL such as `https://sts.eu-west-1.amazonaws.com`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_shortcut_for_tag_characters_agrees_with_the_unicode_table() {
        for c in (0u8..=127).map(char::from) {
            let by_table =
                matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@') || is_letter_separator_or_number(c);
            assert_eq!(is_tag_char(c), by_table, "{c:?}");
        }
        assert!(is_tag_char('é') && is_tag_char('\u{3000}') && !is_tag_char('€'));
    }

    /// Each condition of each check refused on its own, and each limit at
    /// its edge (the mutants that survived the connectors' tests).
    #[test]
    fn every_condition_and_edge_on_its_own() {
        let role = |resource: &str| check_role_arn(&format!("arn:aws:iam::123456789012:{resource}"));
        assert!(role(&format!("role/{}", "n".repeat(64))).is_ok());
        assert!(role(&format!("role/{}", "n".repeat(65))).is_err(), "name too long");
        assert!(role("role/na me").is_err(), "name of the right length, a bad character");
        assert!(role("role/a b/name").is_err(), "good name, path with a space");
        assert!(role("role/a//b/name").is_err(), "good name, empty path segment");
        assert!(role(&format!("role/{}/name", "p".repeat(511))).is_ok());
        assert!(role(&format!("role/{}/name", "p".repeat(512))).is_err(), "path of 512 characters");
        assert!(check_role_arn("arn:aws:iam::aws:role/name").is_err(), "`aws` is an account only for policies");

        let arn = |n: usize| format!("arn:aws:iam::aws:policy/p{n}");
        assert!(check_policy_arns(&(0..10).map(arn).collect::<Vec<_>>()).is_empty());
        assert_eq!(check_policy_arns(&(0..11).map(arn).collect::<Vec<_>>()).len(), 1, "eleven ARNs");
        for bad in [
            format!("arn:aws:iam::aws:policy/{}", "a".repeat(2030)),
            "arn:aws:s3:::a-bucket-name-of-length".into(),
            "arn:aws:iam::aws:policy/".into(),
            "arn:aws:iam::aws:policy/path/".into(),
            "arn:aws:iam::aws:policy/a b".into(),
            "arn:aws:iam::123:policy/name-long-enough".into(),
        ] {
            assert_eq!(check_policy_arns(std::slice::from_ref(&bad)).len(), 1, "{bad}");
        }

        assert!(check_policy_text(&"x".repeat(2048)).is_ok());
        assert!(check_policy_text(&"x".repeat(2049)).is_err());

        let tags = |n: usize| (0..n).map(|i| (format!("k{i}"), "v".to_string())).collect::<Vec<_>>();
        assert!(check_tags(&tags(50)).is_empty());
        assert_eq!(check_tags(&tags(51)).len(), 1, "51 tags");
        assert!(check_tags(&[("k".into(), "v".repeat(256))]).is_empty());
        assert_eq!(check_tags(&[("k".into(), "v".repeat(257))]).len(), 1);

        assert!(ssm_name_problem("/lava/prod/keys").is_none());
        assert!(ssm_name_problem(&format!("/{}", "a".repeat(2047))).is_none());
        for bad in
            ["lava/keys".to_string(), format!("/{}", "a".repeat(2048)), "/a/".into(), "/a//b".into(), "/a b".into()]
        {
            assert!(ssm_name_problem(&bad).is_some(), "{bad}");
        }

        assert!(endpoint_url_problem("https://sts.amazonaws.com").is_none());
        assert!(endpoint_url_problem("http://127.0.0.1:5000/").is_none());
        for bad in ["https://", "https:///path", "https://a b", "ftp://host", "host"] {
            assert!(endpoint_url_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn role_arns() {
        assert!(check_role_arn("arn:aws:iam::123456789012:role/r").is_ok());
        assert!(check_role_arn("arn:aws-cn:iam::123456789012:role/a/b/r").is_ok());
        for bad in [
            "arn:aws:iam::12345:role/r",
            "arn:aws:iam::123456789012:user/r",
            "arn:x:iam::123456789012:role/r",
            "role/r",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions() {
        for good in ["us-east-1", "ap-southeast-2", "us-gov-west-1", "us-isob-east-1", "il-central-1"] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in ["", "us", "US-EAST-1", "us-east", "mars", "us-east-123"] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        let tags =
            |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(check_tags(&tags(&[("team", "data"), ("Ünï cödé", "välue 1")])).is_empty());
        assert_eq!(check_tags(&tags(&[("Team", "a"), ("team", "b")])).len(), 1);
        assert_eq!(check_tags(&tags(&[("a*b", "v")]))[0].0.as_deref(), Some("a*b"));
    }
}
