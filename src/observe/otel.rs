//! OpenTelemetry: one span per gateway request (OTLP/HTTP, JSON encoding), made from the
//! request's usage record when it is finished, with the GenAI semantic conventions
//! (`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.response.model`,
//! `gen_ai.usage.input_tokens` / `output_tokens`), the node (`server.address`), the user id
//! (`user.id`), time to first byte (`maestro.ttfb_ms` and a `gen_ai.first_byte` event), the
//! status and error class. Prompts are never on a span unless `otel.capture_content` is set.
//! The Worker batches spans per isolate and posts them with `waitUntil` (`edge/observe.rs`);
//! this module only builds the JSON.

use crate::usage::UsageRecord;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// (trace id, span id) as OTLP/JSON wants them (hex), derived from the request id, so the
/// span of a request can be found from its `x-request-id`.
pub fn ids(request_id: &str) -> (String, String) {
    let h = Sha256::digest(request_id.as_bytes());
    let hex = crate::auth::token::hex(&h);
    (hex[..32].to_string(), hex[32..48].to_string())
}

fn operation(endpoint: &str) -> &'static str {
    if endpoint.contains("embed") {
        "embeddings"
    } else if endpoint.ends_with("generate") || endpoint.ends_with("/completions") && !endpoint.ends_with("chat/completions") {
        "text_completion"
    } else {
        "chat"
    }
}

fn s(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}
fn i(k: &str, v: i64) -> Value {
    // OTLP/JSON carries 64-bit integers as strings.
    json!({"key": k, "value": {"intValue": v.to_string()}})
}
fn b(k: &str, v: bool) -> Value {
    json!({"key": k, "value": {"boolValue": v}})
}

/// The span of one finished request. `content`: the request body, when capture is opted in.
pub fn span(r: &UsageRecord, content: Option<&str>) -> Value {
    let (trace, span) = ids(&r.id);
    let op = operation(&r.endpoint);
    let start_ns = r.created_at_ms as u128 * 1_000_000;
    let end_ns = start_ns + r.duration_ms as u128 * 1_000_000;
    let mut attrs = vec![
        s("gen_ai.operation.name", op),
        s("gen_ai.request.model", &r.requested_model),
        i("gen_ai.usage.input_tokens", r.prompt_tokens as i64),
        i("gen_ai.usage.output_tokens", r.completion_tokens as i64),
        i("http.response.status_code", r.status as i64),
        s("maestro.request_id", &r.id),
        s("maestro.endpoint", &r.endpoint),
        s("maestro.dialect", &r.dialect),
        b("maestro.stream", r.stream),
        b("maestro.usage_estimated", r.estimated),
    ];
    if !r.real_model.is_empty() {
        attrs.push(s("gen_ai.response.model", &r.real_model));
    }
    if !r.node_name.is_empty() {
        attrs.push(s("server.address", &r.node_name));
    }
    if let Some(n) = r.node_id {
        attrs.push(i("maestro.node_id", n));
    }
    if let Some(u) = r.user_id {
        attrs.push(s("user.id", &u.to_string()));
    }
    if let Some(t) = r.ttfb_ms {
        attrs.push(i("maestro.ttfb_ms", t as i64));
    }
    if r.status >= 400 {
        attrs.push(s("error.type", r.error_class.as_deref().unwrap_or(&format!("http_{}", r.status))));
    }
    if let Some(c) = content {
        attrs.push(s("gen_ai.input.messages", c));
    }
    // OTLP status: 1 = OK, 2 = ERROR (with the message).
    let status = if r.status >= 400 { json!({"code": 2, "message": r.error.clone().unwrap_or_default()}) } else { json!({"code": 1}) };
    let mut v = json!({
        "traceId": trace,
        "spanId": span,
        "name": format!("{op} {}", r.requested_model),
        "kind": 2, // SERVER: the gateway serves the client's call
        "startTimeUnixNano": start_ns.to_string(),
        "endTimeUnixNano": end_ns.to_string(),
        "attributes": attrs,
        "status": status,
    });
    if let Some(t) = r.ttfb_ms {
        v["events"] = json!([{"name": "gen_ai.first_byte", "timeUnixNano": (start_ns + t as u128 * 1_000_000).to_string()}]);
    }
    v
}

/// An export request for `spans` (ExportTraceServiceRequest, JSON).
pub fn export(service: &str, version: &str, spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [s("service.name", service), s("service.version", version)]},
        "scopeSpans": [{"scope": {"name": "maestro-edge", "version": version}, "spans": spans}],
    }]})
}

/// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values URL-encoded, as the OTel SDKs read it).
pub fn parse_headers(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            (!k.is_empty()).then(|| (k.to_string(), urlencoding::decode(v).map(|c| c.into_owned()).unwrap_or_else(|_| v.to_string())))
        })
        .collect()
}

/// Spans one export carries at most; more go in the next batch's call.
pub const BATCH_MAX: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(span: &'a Value, k: &str) -> Option<&'a Value> {
        span["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k).map(|a| &a["value"])
    }

    #[test]
    fn span_follows_the_genai_conventions() {
        let r = UsageRecord {
            id: "req_abc".into(),
            created_at_ms: 1_700_000_000_000,
            user_id: Some(5),
            requested_model: "fast".into(),
            real_model: "llama3:latest".into(),
            node_id: Some(2),
            node_name: "gpu-1".into(),
            endpoint: "v1/chat/completions".into(),
            status: 200,
            prompt_tokens: 7,
            completion_tokens: 3,
            duration_ms: 40,
            ttfb_ms: Some(12),
            ..Default::default()
        };
        let sp = span(&r, None);
        assert_eq!(sp["name"], "chat fast");
        assert_eq!(attr(&sp, "gen_ai.request.model").unwrap()["stringValue"], "fast");
        assert_eq!(attr(&sp, "gen_ai.response.model").unwrap()["stringValue"], "llama3:latest");
        assert_eq!(attr(&sp, "gen_ai.usage.input_tokens").unwrap()["intValue"], "7");
        assert_eq!(attr(&sp, "gen_ai.usage.output_tokens").unwrap()["intValue"], "3");
        assert_eq!(attr(&sp, "user.id").unwrap()["stringValue"], "5");
        assert_eq!(attr(&sp, "server.address").unwrap()["stringValue"], "gpu-1");
        assert_eq!(attr(&sp, "maestro.ttfb_ms").unwrap()["intValue"], "12");
        assert!(attr(&sp, "gen_ai.input.messages").is_none(), "never content unless asked");
        assert_eq!(sp["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(sp["endTimeUnixNano"], "1700000000040000000");
        assert_eq!(sp["traceId"].as_str().unwrap().len(), 32);
        assert_eq!(sp["spanId"].as_str().unwrap().len(), 16);
        assert_eq!(sp["status"]["code"], 1);
        let failed = span(&UsageRecord { status: 429, error_class: Some("rate_limited".into()), ..r.clone() }, Some("[]"));
        assert_eq!(attr(&failed, "error.type").unwrap()["stringValue"], "rate_limited");
        assert_eq!(failed["status"]["code"], 2);
        assert_eq!(attr(&failed, "gen_ai.input.messages").unwrap()["stringValue"], "[]");
        assert_eq!(operation("api/generate"), "text_completion");
        assert_eq!(operation("v1/embeddings"), "embeddings");
    }

    #[test]
    fn otlp_headers_parse_like_the_sdks() {
        assert_eq!(parse_headers("authorization=Bearer%20x, x-team = a"), vec![("authorization".into(), "Bearer x".into()), ("x-team".into(), "a".into())]);
        assert!(parse_headers("").is_empty());
    }
}
