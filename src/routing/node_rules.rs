//! A node's request rules (`nodes.request_rules`, admin `/admin/nodes/{id}/routing`): what some
//! OpenAI-compatible origins need that clients do not send. vLLM answers a request without
//! `max_tokens` with its whole remaining context (or refuses it); NVIDIA NIM and AgentRouter
//! reject parameters they do not know. Model Maestro hard-coded these by URL; here they are
//! settings of the node. Applied last, to the body exactly as the node will receive it.

use crate::origins::Api;
use crate::state::snapshot::RequestRules;
use serde_json::{Map, Value};

pub fn apply(body: &mut Map<String, Value>, rules: &RequestRules, api: Api) {
    for p in &rules.drop_params {
        body.remove(p);
        if api == Api::BedrockConverse {
            crate::policy::converse::drop_param(body, p);
        }
    }
    if let (Some(n), Api::BedrockConverse) = (rules.default_max_tokens, api) {
        // Converse keeps the limit in `inferenceConfig.maxTokens`.
        let inf = body.entry("inferenceConfig").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(inf) = inf {
            inf.entry("maxTokens").or_insert(Value::from(n));
        }
        return;
    }
    if let Some(n) = rules.default_max_tokens {
        let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
        let field = match api {
            Api::OpenAiChat | Api::OpenAiCompletions | Api::AnthropicMessages => Some("max_tokens"),
            _ => None,
        };
        if let Some(field) = field {
            if !has("max_tokens") && !has("max_completion_tokens") {
                body.insert(field.into(), Value::from(n));
            }
        }
    }
}

/// A top-level parameter name a node may drop (never the model or the conversation).
fn param_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) && s != "model" && s != "messages"
}

/// Check rules as the admin sent them; the error names what is wrong.
pub fn parse(v: &Value) -> Result<RequestRules, String> {
    let o = v.as_object().ok_or("'request_rules' must be an object")?;
    for k in o.keys() {
        if !matches!(k.as_str(), "default_max_tokens" | "drop_params") {
            return Err(format!("'request_rules' has an unknown field '{k}' (known: default_max_tokens, drop_params)"));
        }
    }
    let default_max_tokens = match o.get("default_max_tokens") {
        None | Some(Value::Null) => None,
        Some(n) => Some(n.as_u64().filter(|n| (1..=10_000_000).contains(n)).ok_or("'default_max_tokens' must be an integer from 1 to 10000000 or null")? as u32),
    };
    let drop_params = match o.get("drop_params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= 100 && a.iter().all(|x| x.as_str().is_some_and(param_name)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        Some(_) => return Err("'drop_params' must be a list of up to 100 parameter names (A-Z, 0-9, '_', '.', '-'; not 'model' or 'messages')".into()),
    };
    Ok(RequestRules { default_max_tokens, drop_params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn default_max_tokens_only_when_the_client_set_none_and_params_are_dropped() {
        let rules = RequestRules { default_max_tokens: Some(4096), drop_params: vec!["logprobs".into(), "user".into()] };
        let mut b = body(json!({"model": "m", "messages": [], "logprobs": true, "user": "u", "temperature": 0.2}));
        apply(&mut b, &rules, Api::OpenAiChat);
        assert_eq!(b, body(json!({"model": "m", "messages": [], "temperature": 0.2, "max_tokens": 4096})));
        let mut b = body(json!({"model": "m", "max_completion_tokens": 10}));
        apply(&mut b, &rules, Api::OpenAiChat);
        assert!(b.get("max_tokens").is_none());
        let mut b = body(json!({"model": "m"}));
        apply(&mut b, &rules, Api::OllamaChat);
        assert!(b.get("max_tokens").is_none(), "Ollama's native API has no max_tokens");
        let rules = RequestRules { default_max_tokens: Some(512), drop_params: vec!["temperature".into()] };
        let mut b = body(json!({"messages": [], "inferenceConfig": {"temperature": 0.3}}));
        apply(&mut b, &rules, Api::BedrockConverse);
        assert_eq!(b, body(json!({"messages": [], "inferenceConfig": {"maxTokens": 512}})), "Converse names and nests them");
        let mut b = body(json!({"inferenceConfig": {"maxTokens": 9}}));
        apply(&mut b, &rules, Api::BedrockConverse);
        assert_eq!(b["inferenceConfig"]["maxTokens"], 9);
    }

    #[test]
    fn rules_are_validated() {
        assert_eq!(parse(&json!({})).unwrap(), RequestRules::default());
        assert_eq!(parse(&json!({"default_max_tokens": 8, "drop_params": ["tools"]})).unwrap().drop_params, ["tools"]);
        assert!(parse(&json!({"default_max_tokens": 0})).is_err());
        assert!(parse(&json!({"drop_params": ["model"]})).is_err());
        assert!(parse(&json!({"max": 1})).is_err());
        assert!(parse(&json!([1])).is_err());
    }
}
