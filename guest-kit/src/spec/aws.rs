//! Spec fields that name AWS things, each checked against AWS's own limits
//! as it is read: a problem with one is found even when another field is
//! wrong, and a connector's `check` sees only values AWS would take.

use serde_json::Value;

use lava_rules::duration::parse_duration;
use lava_rules::problem::kind;
use lava_rules::sts;

use super::fields::{FieldError, FieldValue};

fn wrong_kind(expected: &str, value: &Value) -> FieldError {
    format!("must be {expected}, not {}", kind(value)).into()
}

fn text(value: &Value) -> Result<&str, FieldError> {
    value.as_str().ok_or_else(|| wrong_kind("a string", value))
}

/// An IAM role ARN: `arn:<partition>:iam::<12-digit account>:role/<path/>name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleArn(pub String);

impl FieldValue for RoleArn {
    const TYPE_NAME: &'static str = "role ARN";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        let arn = text(value)?;
        sts::check_role_arn(arn)?;
        Ok(Self(arn.to_string()))
    }
}

/// An AWS region name such as `us-east-1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(pub String);

impl FieldValue for Region {
    const TYPE_NAME: &'static str = "region";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        let region = text(value)?;
        match sts::region_problem(region) {
            Some(problem) => Err(problem.into()),
            None => Ok(Self(region.to_string())),
        }
    }
}

/// The full name of an SSM parameter (`/a/b`): the name, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsmName(pub String);

impl FieldValue for SsmName {
    const TYPE_NAME: &'static str = "SSM parameter name";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        let name = text(value)?;
        match sts::ssm_name_problem(name) {
            Some(problem) => Err(problem.into()),
            None => Ok(Self(name.to_string())),
        }
    }
}

/// An STS session length, in whole seconds from 900 to 43,200: a duration
/// in lava's grammar (`1.5h`, `900`) or a number of seconds, truncated as
/// lava truncates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionDuration(pub u32);

impl SessionDuration {
    /// A duration written as text (a worker setting, for example).
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text).and_then(sts::duration_seconds).map(Self)
    }
}

impl FieldValue for SessionDuration {
    const TYPE_NAME: &'static str = "duration";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        match value {
            Value::String(text) => Ok(Self::parse(text)?),
            Value::Number(n) => {
                let seconds = n.as_f64().ok_or_else(|| FieldError::from("is not a number"))?;
                Ok(Self(sts::duration_seconds(seconds)?))
            }
            other => Err(wrong_kind("a duration such as `3h` or a number of seconds", other)),
        }
    }
}

/// Managed session policy ARNs: one ARN, or a list of at most ten.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyArns(pub Vec<String>);

impl FieldValue for PolicyArns {
    const TYPE_NAME: &'static str = "string | list<string>";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        let arns = match value {
            Value::String(arn) => vec![arn.clone()],
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(arn) => Ok(arn.clone()),
                    other => Err(FieldError::from(format!("item {i} must be a string, not {}", kind(other)))),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(wrong_kind("a policy ARN or a list of them", other)),
        };
        let problems = sts::check_policy_arns(&arns);
        if problems.is_empty() { Ok(Self(arns)) } else { Err(problems.join("; ").into()) }
    }
}

/// An inline session policy, as the compact JSON STS is sent (at most 2,048
/// characters of Latin-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// The policy as compact JSON, its keys in the spec's order.
    pub compact: String,
    /// Whether it has a `Statement` (an IAM policy document needs one).
    pub has_statement: bool,
}

impl FieldValue for SessionPolicy {
    const TYPE_NAME: &'static str = "map<string,any>";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        let Value::Object(policy) = value else {
            return Err(wrong_kind("an IAM policy document (a map)", value));
        };
        let (compact, has_statement) = sts::compact_policy(policy)?;
        Ok(Self { compact, has_statement })
    }
}

/// Session tags in the spec's order, each value a string. Their AWS limits
/// (count, lengths, characters, keys unique ignoring case) are many problems
/// at once: [`SessionTags::problems`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionTags(pub Vec<(String, String)>);

impl SessionTags {
    /// Each tag that STS would refuse, as (field, message): `tags` for the
    /// whole map, `tags.<key>` for one tag.
    pub fn problems(&self) -> Vec<(String, String)> {
        let field = |key: Option<String>| key.map_or_else(|| "tags".to_string(), |key| format!("tags.{key}"));
        sts::check_tags(&self.0).into_iter().map(|(key, message)| (field(key), message)).collect()
    }
}

impl FieldValue for SessionTags {
    const TYPE_NAME: &'static str = "map<string,string>";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        let Value::Object(tags) = value else {
            return Err(wrong_kind("a map of tag names to string values", value));
        };
        tags.iter().map(tag).collect::<Result<_, _>>().map(Self)
    }
}

fn tag((key, value): (&String, &Value)) -> Result<(String, String), FieldError> {
    match value {
        Value::String(value) => Ok((key.clone(), value.clone())),
        other => Err(FieldError {
            path: format!(".{key}"),
            message: format!("tag values must be strings, not {}", kind(other)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message<T: FieldValue + std::fmt::Debug>(value: Value) -> String {
        T::from_value(&value).unwrap_err().message
    }

    #[test]
    fn each_aws_field_takes_what_aws_takes_and_says_why_not() {
        assert_eq!(RoleArn::from_value(&json!("arn:aws:iam::123456789012:role/r")).unwrap().0.len(), 32);
        assert!(message::<RoleArn>(json!("arn:aws:iam::1:role/r")).contains("is not an IAM role ARN"));
        assert_eq!(message::<RoleArn>(json!(5)), "must be a string, not a number");
        assert!(message::<Region>(json!("mars")).contains("not an AWS region name"));
        assert!(message::<SsmName>(json!("AKIA,secret")).contains("full SSM parameter name"));
        assert_eq!(SessionDuration::from_value(&json!("1.5h")).unwrap(), SessionDuration(5_400));
        assert_eq!(SessionDuration::from_value(&json!(900.9)).unwrap(), SessionDuration(900), "truncated, as lava");
        assert!(message::<SessionDuration>(json!("14m")).contains("STS accepts 900 to 43200"));
        assert!(message::<SessionDuration>(json!(true)).starts_with("must be a duration such as `3h`"));
        assert_eq!(PolicyArns::from_value(&json!("arn:aws:iam::aws:policy/P")).unwrap().0.len(), 1);
        assert_eq!(message::<PolicyArns>(json!([3])), "item 0 must be a string, not a number");
        assert!(SessionPolicy::from_value(&json!({"Version": "2012-10-17"})).is_ok_and(|p| !p.has_statement));
        let tags = SessionTags::from_value(&json!({"b": "1", "a": "2"})).unwrap();
        assert_eq!(tags.0, [("b".into(), "1".into()), ("a".into(), "2".into())], "in the spec's order");
        let error = SessionTags::from_value(&json!({"k": 1})).unwrap_err();
        assert_eq!((error.path.as_str(), error.message.as_str()), (".k", "tag values must be strings, not a number"));
        let twins = SessionTags(vec![("Team".into(), "a".into()), ("team".into(), "b".into())]);
        assert_eq!(twins.problems()[0].0, "tags.team");
    }
}
