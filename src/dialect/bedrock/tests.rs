use super::request::tool_id;
use super::*;
use crate::dialect::ir::*;
use crate::dialect::{anthropic, ollama, openai};
use crate::origins::bedrock::eventstream::encode;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

fn ir(v: Value) -> ChatRequest {
    openai::decode_request(v.as_object().unwrap()).unwrap()
}

const CLAUDE: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

#[test]
fn an_openai_conversation_with_tools_becomes_converse() {
    let req = ir(json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call:1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call:1", "content": "18C"},
            {"role": "user", "content": "Thanks"},
            {"role": "system", "content": "Late rule."}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "max_tokens": 300, "temperature": 1.5, "top_p": 0.9, "stop": ["\n", "END"], "seed": 4
    }));
    let b = encode_request(&req, "meta.llama3-1-70b-instruct-v1:0").unwrap();
    assert_eq!(b["system"], json!([{"text": "Be brief."}, {"text": "Late rule."}]));
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{b}");
    assert_eq!(msgs[0]["content"][1], json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgoAAA"}}}));
    assert_eq!(msgs[1]["content"][0], json!({"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}));
    assert_eq!(msgs[2]["content"][0], json!({"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C"}]}}), "results first, same id mapping");
    assert_eq!(msgs[2]["content"][1], json!({"text": "Thanks"}));
    assert_eq!(b["inferenceConfig"], json!({"maxTokens": 300, "temperature": 1.0, "topP": 0.9, "stopSequences": ["END"]}));
    assert_eq!(b["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(b["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["city"]["type"], "string");
    assert!(b.get("model").is_none() && b.get("seed").is_none() && b.get("additionalModelRequestFields").is_none());
}

#[test]
fn reasoning_maps_to_thinking_for_claude_only() {
    let req = ir(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high", "temperature": 0.5}));
    let b = encode_request(&req, CLAUDE).unwrap();
    assert_eq!(b["additionalModelRequestFields"]["thinking"], json!({"type": "enabled", "budget_tokens": 16384}));
    assert_eq!(b["inferenceConfig"]["maxTokens"], 8192 + 16384);
    assert!(b["inferenceConfig"].get("temperature").is_none(), "thinking refuses temperature");
    let other = encode_request(&req, "amazon.nova-pro-v1:0").unwrap();
    assert!(other.get("additionalModelRequestFields").is_none());
    assert_eq!(other["inferenceConfig"], json!({"temperature": 0.5}), "no invented maxTokens without thinking");
    // A client budget that does not fit below max_tokens turns thinking off.
    let small = ir(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low", "max_tokens": 500}));
    assert!(encode_request(&small, CLAUDE).unwrap().get("additionalModelRequestFields").is_none());
    // Claude refuses temperature with top_p.
    let both = ir(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "top_p": 0.5}));
    assert_eq!(encode_request(&both, CLAUDE).unwrap()["inferenceConfig"], json!({"temperature": 0.2}));
}

#[test]
fn an_open_tool_loop_without_signed_reasoning_goes_without_thinking() {
    let req = ir(json!({"model": "m", "reasoning_effort": "medium", "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}], "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "r1"},
        {"role": "tool", "tool_call_id": "a", "content": "r2"}
    ]}));
    let b = encode_request(&req, CLAUDE).unwrap();
    assert!(b.get("additionalModelRequestFields").is_none(), "{b}");
    assert_eq!(b["messages"][1]["content"][0]["toolUse"]["input"], json!({"_raw_arguments": "not json"}));
    assert_eq!(b["messages"][2]["content"], json!([{"toolResult": {"toolUseId": "a", "content": [{"text": "r1\nr2"}]}}]));
}

#[test]
fn long_tool_ids_fit_bedrocks_limit_and_stay_distinct() {
    let a = tool_id(&format!("fc_{}", "a".repeat(80)));
    let b = tool_id(&format!("fc_{}b", "a".repeat(79)));
    assert_eq!((a.len(), b.len()), (64, 64));
    assert_ne!(a, b);
    assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'));
    assert_eq!(tool_id("call:1"), "call_1");
}

#[test]
fn tool_choice_none_and_unsupported_images() {
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    let none = ir(json!({"model": "m", "tools": tools, "tool_choice": "none", "messages": [{"role": "user", "content": "x"}]}));
    assert!(encode_request(&none, CLAUDE).unwrap().get("toolConfig").is_none());
    let url = ir(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}));
    assert!(encode_request(&url, CLAUDE).unwrap_err().contains("image URLs"));
}

#[test]
fn anthropic_and_ollama_clients_reach_converse_too() {
    let a = anthropic::decode_request(
        json!({"model": "m", "max_tokens": 50, "system": [{"type": "text", "text": "S"}], "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "sig"}, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok", "is_error": true}]}
    ], "tools": [{"name": "f", "input_schema": {"type": "object"}}], "thinking": {"type": "enabled", "budget_tokens": 2000}})
        .as_object()
        .unwrap(),
    )
    .unwrap();
    let b = encode_request(&a, CLAUDE).unwrap();
    assert_eq!(b["system"], json!([{"text": "S"}]));
    assert_eq!(b["messages"][1]["content"][0], json!({"reasoningContent": {"reasoningText": {"text": "hm", "signature": "sig"}}}));
    assert_eq!(b["messages"][2]["content"][0]["toolResult"]["status"], "error");
    // The gateway's own "unsigned" marker is not a signature Claude would accept.
    let mut unsigned = a.clone();
    if let Some(Part::Thinking { signature, .. }) = unsigned.messages[1].parts.first_mut() {
        *signature = Some(UNSIGNED_THINKING.to_string());
    }
    let b = encode_request(&unsigned, CLAUDE).unwrap();
    assert!(b["messages"][1]["content"][0].get("reasoningContent").is_none(), "{b}");
    let o = ollama::decode_chat_request(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi", "images": ["/9j/4AAQ"]}], "options": {"temperature": 0.3, "num_predict": 64}}).as_object().unwrap(),
    )
    .unwrap();
    let b = encode_request(&o, "amazon.nova-lite-v1:0").unwrap();
    assert_eq!(b["messages"][0]["content"][1]["image"]["format"], "jpeg", "{b}");
    assert_eq!(b["inferenceConfig"], json!({"maxTokens": 64, "temperature": 0.3}));
}

#[test]
fn a_converse_answer_decodes() {
    let v = json!({"output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "think", "signature": "s"}}},
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
    ]}}, "stopReason": "tool_use", "usage": {"inputTokens": 10, "outputTokens": 7, "totalTokens": 37, "cacheReadInputTokens": 15, "cacheWriteInputTokens": 5}, "metrics": {"latencyMs": 10}});
    let r = decode_response(&v).unwrap();
    assert_eq!((r.text.as_str(), r.reasoning.as_str()), ("Let me check.", "think"));
    assert_eq!(r.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
    assert_eq!(r.finish, FinishReason::ToolCalls);
    let u = r.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cache_write_tokens), (30, 7, 15, 5));
    assert!(decode_response(&json!({"message": "x"})).is_err());
    assert_eq!(finish_from("guardrail_intervened"), FinishReason::ContentFilter);
    assert_eq!(finish_from("max_tokens"), FinishReason::Length);
}

pub(crate) fn event(kind: &str, payload: Value) -> Vec<u8> {
    encode(&[(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")], payload.to_string().as_bytes())
}

/// A ConverseStream answer with reasoning, text and a tool call, as Bedrock frames it.
pub(crate) fn stream_bytes() -> Vec<u8> {
    let mut s = event("messageStart", json!({"role": "assistant"}));
    s.extend(event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hm"}}})));
    s.extend(event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig"}}})));
    s.extend(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    s.extend(event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"text": "Checking."}})));
    s.extend(event("contentBlockStop", json!({"contentBlockIndex": 1})));
    s.extend(event("contentBlockStart", json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_9", "name": "get_weather"}}})));
    s.extend(event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"city\":"}}})));
    s.extend(event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "\"Paris\"}"}}})));
    s.extend(event("contentBlockStop", json!({"contentBlockIndex": 2})));
    s.extend(event("messageStop", json!({"stopReason": "tool_use"})));
    s.extend(event("metadata", json!({"usage": {"inputTokens": 12, "outputTokens": 9, "totalTokens": 21, "cacheReadInputTokens": 8}, "metrics": {"latencyMs": 5}})));
    s
}

fn decode_all(pieces: &[&[u8]]) -> (Vec<Chunk>, Result<(), String>, bool) {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for p in pieces {
        if let Err(e) = d.frame(p, &mut out) {
            return (out, Err(e), d.done());
        }
    }
    (out, Ok(()), d.done())
}

#[test]
fn a_converse_stream_decodes_at_every_split() {
    let s = stream_bytes();
    let (whole, ok, done) = decode_all(&[&s]);
    assert!(ok.is_ok() && done);
    assert_eq!(
        whole,
        vec![
            Chunk::Reasoning("hm".into()),
            Chunk::Text("Checking.".into()),
            Chunk::ToolCallStart { index: 0, id: "tooluse_9".into(), name: "get_weather".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"city\":".into() },
            Chunk::ToolCallArgs { index: 0, delta: "\"Paris\"}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 20, completion_tokens: 9, cached_tokens: 8, ..Default::default() }),
        ]
    );
    for i in (0..=s.len()).step_by(7) {
        assert_eq!(decode_all(&[&s[..i], &s[i..]]).0, whole, "split at {i}");
    }
}

#[test]
fn exceptions_in_the_stream_are_errors() {
    let mut s = event("messageStart", json!({"role": "assistant"}));
    s.extend(encode(&[(":message-type", "exception"), (":exception-type", "modelStreamErrorException"), (":content-type", "application/json")], br#"{"message":"model crashed"}"#));
    let (_, r, done) = decode_all(&[&s]);
    assert_eq!(r, Err("modelStreamErrorException: model crashed".to_string()));
    assert!(!done);
    let mut bad = event("messageStart", json!({}));
    let n = bad.len();
    bad[n - 2] ^= 0xff;
    assert!(decode_all(&[&bad]).1.unwrap_err().contains("checksum"));
}
