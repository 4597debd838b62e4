//! What a Bedrock node can serve, from `ListFoundationModels` and `ListInferenceProfiles`.
//! Pure parsing; the cron's discovery (`maintenance::discovery`) fetches and stores.
//!
//! The catalog holds:
//! - foundation models with text output that can be called on demand by their model id
//!   (`inferenceTypesSupported` contains `ON_DEMAND`; provisioned-only variants such as
//!   `…:0:18k` and embedding or image models are left out);
//! - every active inference profile (`us.anthropic.claude-…`, `global.…`, application profiles),
//!   which is how newer models are called at all (they list only `INFERENCE_PROFILE`); a
//!   profile takes its capabilities from the foundation model it routes to.
//!
//! Capabilities: `completion`; `vision` when the model takes images; `tools` and `thinking` by
//! model family (Bedrock does not report them; see `TOOL_FAMILIES`, `THINKING_FAMILIES`). They
//! steer group routing only (a wrong guess costs a preference, never a request). Bedrock
//! reports no context lengths.

use serde_json::{json, Value};

pub const FOUNDATION_MODELS_PATH: &str = "/foundation-models?byOutputModality=TEXT";
/// Pages of inference profiles read per discovery (1000 each).
pub const MAX_PROFILE_PAGES: usize = 5;

pub fn profiles_path(next_token: Option<&str>) -> String {
    match next_token {
        Some(t) => format!("/inference-profiles?maxResults=1000&nextToken={}", super::sigv4::uri_encode(t, false)),
        None => "/inference-profiles?maxResults=1000".into(),
    }
}

/// The cheap authenticated probe for health checks: one inference profile (no tokens spent;
/// proves the endpoint answers and the credentials are accepted).
pub const PROBE_PATH: &str = "/inference-profiles?maxResults=1";

/// Model families that take tools through Converse.
const TOOL_FAMILIES: &[&str] = &[
    "anthropic.claude-3",
    "anthropic.claude-opus",
    "anthropic.claude-sonnet",
    "anthropic.claude-haiku",
    "amazon.nova",
    "meta.llama3-1",
    "meta.llama3-2-11b",
    "meta.llama3-2-90b",
    "meta.llama3-3",
    "meta.llama4",
    "mistral.mistral-large",
    "mistral.pixtral",
    "cohere.command-r",
    "ai21.jamba",
    "openai.gpt-oss",
    "qwen.",
    "writer.palmyra",
    "deepseek.v3",
];
/// Model families that reason (Claude with `thinking`, models that always reason).
const THINKING_FAMILIES: &[&str] = &["anthropic.claude-3-7", "anthropic.claude-opus-4", "anthropic.claude-sonnet-4", "anthropic.claude-haiku-4", "deepseek.r1", "openai.gpt-oss"];

#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: String,
    pub provider: Option<String>,
    pub capabilities: Vec<String>,
    pub details: Value,
    /// Callable by this id (on demand, or an inference profile); false = listed only so that
    /// profiles can look it up.
    pub callable: bool,
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn capabilities(id: &str, vision: bool) -> Vec<String> {
    let mut c = vec!["completion".to_string()];
    if TOOL_FAMILIES.iter().any(|f| id.contains(f)) {
        c.push("tools".into());
    }
    if vision {
        c.push("vision".into());
    }
    if THINKING_FAMILIES.iter().any(|f| id.contains(f)) {
        c.push("thinking".into());
    }
    c
}

/// `ListFoundationModels` (`modelSummaries`). `Err` when the answer is not such a listing.
pub fn foundation_models(v: &Value) -> Result<Vec<Listed>, String> {
    let list = v.get("modelSummaries").and_then(Value::as_array).ok_or("the answer has no 'modelSummaries' list")?;
    Ok(list
        .iter()
        .filter_map(|m| {
            let id = m.get("modelId").and_then(Value::as_str)?.to_string();
            let output = strs(m.get("outputModalities"));
            if !output.is_empty() && !output.iter().any(|o| o == "TEXT") {
                return None;
            }
            let input = strs(m.get("inputModalities"));
            let types = strs(m.get("inferenceTypesSupported"));
            let lifecycle = m.pointer("/modelLifecycle/status").and_then(Value::as_str).unwrap_or("ACTIVE");
            let vision = input.iter().any(|i| i == "IMAGE");
            Some(Listed {
                capabilities: capabilities(&id, vision),
                provider: m.get("providerName").and_then(Value::as_str).map(String::from),
                details: json!({
                    "source": "foundation-model",
                    "model_name": m.get("modelName"),
                    "provider": m.get("providerName"),
                    "input_modalities": input,
                    "inference_types": types,
                    "streaming": m.get("responseStreamingSupported"),
                    "lifecycle": lifecycle,
                }),
                callable: types.iter().any(|t| t == "ON_DEMAND") && lifecycle != "EOL",
                id,
            })
        })
        .collect())
}

/// The model id at the end of a foundation-model ARN (`…:foundation-model/{id}`).
fn model_of_arn(arn: &str) -> Option<&str> {
    arn.rsplit_once("foundation-model/").map(|(_, id)| id)
}

/// One page of `ListInferenceProfiles` (`inferenceProfileSummaries`), with the token of the
/// next page. `models` is the foundation listing, for capabilities.
pub fn inference_profiles(v: &Value, models: &[Listed]) -> Result<(Vec<Listed>, Option<String>), String> {
    let list = v.get("inferenceProfileSummaries").and_then(Value::as_array).ok_or("the answer has no 'inferenceProfileSummaries' list")?;
    let out = list
        .iter()
        .filter(|p| p.get("status").and_then(Value::as_str).is_none_or(|s| s == "ACTIVE"))
        .filter_map(|p| {
            let id = p.get("inferenceProfileId").and_then(Value::as_str)?.to_string();
            let underlying: Vec<&str> =
                p.get("models").and_then(Value::as_array).map(|a| a.iter().filter_map(|m| m.get("modelArn").and_then(Value::as_str).and_then(model_of_arn)).collect()).unwrap_or_default();
            let base = underlying.first().and_then(|u| models.iter().find(|m| m.id == *u));
            let vision = base.is_some_and(|b| b.capabilities.iter().any(|c| c == "vision"));
            // An application profile's id is an ARN-ish opaque id: its family is the model's.
            let family_of = base.map(|b| b.id.as_str()).unwrap_or(&id);
            let mut caps = capabilities(family_of, vision);
            for c in capabilities(&id, vision) {
                if !caps.contains(&c) {
                    caps.push(c);
                }
            }
            Some(Listed {
                provider: base.and_then(|b| b.provider.clone()),
                capabilities: caps,
                details: json!({
                    "source": "inference-profile",
                    "profile_name": p.get("inferenceProfileName"),
                    "profile_type": p.get("type"),
                    "models": underlying,
                }),
                callable: true,
                id,
            })
        })
        .collect();
    let next = v.get("nextToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from);
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn foundation() -> Value {
        json!({"modelSummaries": [
            {"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "modelId": "anthropic.claude-3-haiku-20240307-v1:0", "modelName": "Claude 3 Haiku", "providerName": "Anthropic",
             "inputModalities": ["TEXT", "IMAGE"], "outputModalities": ["TEXT"], "responseStreamingSupported": true, "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "ACTIVE"}},
            {"modelId": "anthropic.claude-sonnet-4-20250514-v1:0", "providerName": "Anthropic", "inputModalities": ["TEXT", "IMAGE"], "outputModalities": ["TEXT"], "inferenceTypesSupported": ["INFERENCE_PROFILE"], "modelLifecycle": {"status": "ACTIVE"}},
            {"modelId": "anthropic.claude-v2:0:18k", "providerName": "Anthropic", "inputModalities": ["TEXT"], "outputModalities": ["TEXT"], "inferenceTypesSupported": ["PROVISIONED"]},
            {"modelId": "amazon.titan-embed-text-v2:0", "providerName": "Amazon", "inputModalities": ["TEXT"], "outputModalities": ["EMBEDDING"], "inferenceTypesSupported": ["ON_DEMAND"]},
            {"modelId": "meta.llama3-1-70b-instruct-v1:0", "providerName": "Meta", "inputModalities": ["TEXT"], "outputModalities": ["TEXT"], "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "LEGACY"}}
        ]})
    }

    #[test]
    fn foundation_models_keep_what_can_be_called() {
        let m = foundation_models(&foundation()).unwrap();
        let callable: Vec<&str> = m.iter().filter(|l| l.callable).map(|l| l.id.as_str()).collect();
        assert_eq!(callable, ["anthropic.claude-3-haiku-20240307-v1:0", "meta.llama3-1-70b-instruct-v1:0"]);
        assert!(!m.iter().any(|l| l.id.starts_with("amazon.titan-embed")), "embedding models are not chat models");
        assert_eq!(m[0].capabilities, ["completion", "tools", "vision"]);
        assert_eq!(m[0].provider.as_deref(), Some("Anthropic"));
        assert!(foundation_models(&json!({"models": []})).is_err());
    }

    #[test]
    fn profiles_take_their_models_capabilities_and_page() {
        let models = foundation_models(&foundation()).unwrap();
        let page = json!({"inferenceProfileSummaries": [
            {"inferenceProfileId": "us.anthropic.claude-sonnet-4-20250514-v1:0", "inferenceProfileName": "US Claude Sonnet 4", "status": "ACTIVE", "type": "SYSTEM_DEFINED",
             "models": [{"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"}, {"modelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"}]},
            {"inferenceProfileId": "old.profile", "status": "DISABLED", "models": []}
        ], "nextToken": "abc/+="});
        let (p, next) = inference_profiles(&page, &models).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].capabilities, ["completion", "tools", "vision", "thinking"]);
        assert_eq!(p[0].details["models"][0], "anthropic.claude-sonnet-4-20250514-v1:0");
        assert_eq!(next.as_deref(), Some("abc/+="));
        assert_eq!(profiles_path(next.as_deref()), "/inference-profiles?maxResults=1000&nextToken=abc%2F%2B%3D");
        assert!(inference_profiles(&json!({}), &models).is_err());
    }
}
