//! The Bedrock fields of `/admin/nodes` (`node_type: "bedrock"`): region, access key id, and the
//! write-only secret access key and session token (sealed like node API keys; responses only
//! say whether they are set). A Bedrock API key is the node's ordinary `api_key`.
//!
//! A bedrock node needs a region and credentials: an API key, or an access key id with its
//! secret. When both are set the API key is used (README "Amazon Bedrock").

use super::input::Input;
use crate::error::GatewayError;
use crate::origins::header_safe;
use serde_json::{json, Value};

/// A field change: absent = keep, `Some(None)` = clear, `Some(Some(v))` = set (sealed for secrets).
pub type Change = Option<Option<String>>;

#[derive(Debug, Default)]
pub struct Fields {
    pub region: Change,
    pub access_key_id: Change,
    pub secret: Change,
    pub session_token: Change,
}

fn change(input: &Input, field: &str, check: impl Fn(&str) -> Result<(), String>) -> Result<Change, GatewayError> {
    match input.raw(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => {
            check(s.trim()).map_err(|m| GatewayError::bad_field(field, m))?;
            Ok(Some(Some(s.trim().to_string())))
        }
        Some(_) => Err(GatewayError::bad_field(field, format!("'{field}' must be a string or null"))),
    }
}

pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    r.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

pub fn valid_access_key_id(k: &str) -> bool {
    (16..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn secret_line(max: usize) -> impl Fn(&str) -> Result<(), String> {
    move |s: &str| (s.len() <= max && header_safe(s) && !s.contains(' ')).then_some(()).ok_or_else(|| format!("must be a single line without spaces, at most {max} characters"))
}

/// The Bedrock fields of a create or update body, validated; secrets sealed with `seal`.
pub fn parse(input: &Input, seal: &dyn Fn(&str) -> String) -> Result<Fields, GatewayError> {
    let region = change(input, "aws_region", |r| valid_region(r).then_some(()).ok_or_else(|| "'aws_region' must be an AWS region such as us-east-1".to_string()))?;
    let access_key_id =
        change(input, "aws_access_key_id", |k| valid_access_key_id(k).then_some(()).ok_or_else(|| "'aws_access_key_id' must be 16-128 characters of A-Z and 0-9 (AKIA… or ASIA…)".to_string()))?;
    let sealed = |c: Change| c.map(|v| v.map(|s| seal(&s)));
    let secret = sealed(change(input, "aws_secret_access_key", |s| secret_line(256)(s).map_err(|m| format!("'aws_secret_access_key' {m}")))?);
    let session_token = sealed(change(input, "aws_session_token", |s| secret_line(8192)(s).map_err(|m| format!("'aws_session_token' {m}")))?);
    Ok(Fields { region, access_key_id, secret, session_token })
}

/// What a bedrock node ends up with, after a create or an update.
pub struct Resulting {
    pub region: bool,
    pub api_key: bool,
    pub access_key_id: bool,
    pub secret: bool,
}

/// A bedrock node must be usable: a region and credentials (the error names what is missing).
pub fn require_complete(r: &Resulting) -> Result<(), GatewayError> {
    if !r.region {
        return Err(GatewayError::bad_field("aws_region", "a bedrock node needs 'aws_region' (e.g. us-east-1)"));
    }
    if r.api_key {
        return Ok(());
    }
    match (r.access_key_id, r.secret) {
        (true, true) => Ok(()),
        (false, false) => Err(GatewayError::bad_field("api_key", "a bedrock node needs credentials: 'api_key' (a Bedrock API key) or 'aws_access_key_id' with 'aws_secret_access_key'")),
        (true, false) => Err(GatewayError::bad_field("aws_secret_access_key", "'aws_access_key_id' needs its 'aws_secret_access_key'")),
        (false, true) => Err(GatewayError::bad_field("aws_access_key_id", "'aws_secret_access_key' needs its 'aws_access_key_id'")),
    }
}

/// Audit details for the Bedrock fields: which were set, never a secret.
pub fn audit(f: &Fields) -> Value {
    let set = |c: &Change| c.as_ref().map(|v| v.is_some());
    json!({
        "aws_region": f.region.as_ref().map(|v| v.clone().unwrap_or_default()),
        "aws_access_key_id": f.access_key_id.as_ref().map(|v| v.clone().unwrap_or_default()),
        "aws_secret_access_key_set": set(&f.secret),
        "aws_session_token_set": set(&f.session_token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> Input {
        Input(v.as_object().unwrap().clone())
    }

    #[test]
    fn fields_are_validated_and_secrets_sealed() {
        let seal = |s: &str| format!("sealed({s})");
        let f = parse(&input(json!({"aws_region": "eu-central-1", "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG", "aws_session_token": null})), &seal)
            .unwrap();
        assert_eq!(f.region, Some(Some("eu-central-1".into())));
        assert_eq!(f.secret, Some(Some("sealed(wJalrXUtnFEMI/K7MDENG)".into())));
        assert_eq!(f.session_token, Some(None));
        assert_eq!(audit(&f)["aws_secret_access_key_set"], true);
        assert!(!audit(&f).to_string().contains("wJalr"));
        for (field, bad) in
            [("aws_region", json!("Mars")), ("aws_region", json!("us-east")), ("aws_access_key_id", json!("akia-lower")), ("aws_secret_access_key", json!("two\nlines")), ("aws_region", json!(5))]
        {
            let e = parse(&input(json!({ field: bad })), &seal).unwrap_err();
            assert_eq!(e.field(), Some(field), "{e:?}");
        }
        assert!(valid_region("us-gov-west-1") && valid_region("ap-southeast-2") && !valid_region("us-east-123"));
    }

    #[test]
    fn a_bedrock_node_needs_a_region_and_credentials() {
        let r = |region, api_key, access_key_id, secret| Resulting { region, api_key, access_key_id, secret };
        assert!(require_complete(&r(true, true, false, false)).is_ok());
        assert!(require_complete(&r(true, false, true, true)).is_ok());
        assert_eq!(require_complete(&r(false, true, false, false)).unwrap_err().field(), Some("aws_region"));
        assert_eq!(require_complete(&r(true, false, false, false)).unwrap_err().field(), Some("api_key"));
        assert_eq!(require_complete(&r(true, false, true, false)).unwrap_err().field(), Some("aws_secret_access_key"));
    }
}
