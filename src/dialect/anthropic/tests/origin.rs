//! The Anthropic origin side: IR -> Messages body, Messages answers -> IR.
use super::super::super::ir::*;
use super::super::request::thinking_budget;
use super::super::*;
use crate::dialect::{ollama, openai, responses};
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// An OpenAI chat request of a coding agent: system, a mid-conversation system message, two
/// parallel tool calls answered (one of them twice), an image, reasoning.
fn openai_agent_request() -> Value {
    json!({
        "model": "claude", "stream": true, "max_tokens": 4000, "temperature": 1.7, "seed": 3,
        "reasoning_effort": "high", "parallel_tool_calls": false,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Look at this"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}}]},
            {"role": "system", "content": "Mode: plan"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": "{\"path\":\"a.rs\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "ls", "arguments": "not json"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "fn main() {}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "a.rs"},
            {"role": "tool", "tool_call_id": "call_2", "content": "b.rs"},
            {"role": "user", "content": "go on"}
        ],
        "tools": [{"type": "function", "function": {"name": "read", "description": "Read a file", "parameters": {"properties": {"path": {"type": "string"}}}}}],
        "tool_choice": "required"
    })
}

#[test]
fn openai_chat_to_messages() {
    let ir = openai::decode_request(&obj(openai_agent_request())).unwrap();
    let b = encode_request(&ir, "claude-sonnet-4-5");
    assert_eq!(b["model"], "claude-sonnet-4-5");
    assert_eq!(b["max_tokens"], 4000);
    assert_eq!(b["system"], "You are terse.");
    assert_eq!(b["stream"], true);
    assert!(b.get("thinking").is_none(), "an open tool loop without signed thinking goes without thinking");
    let mut fresh = ir.clone();
    fresh.messages.truncate(1);
    assert!(encode_request(&fresh, "m").get("thinking").is_none(), "no thinking with a forced tool choice");
    fresh.tool_choice = Some(ToolChoice::Auto);
    let b1 = encode_request(&fresh, "claude-sonnet-4-5");
    assert_eq!(b1["thinking"], json!({"type": "enabled", "budget_tokens": 3999}), "budget below max_tokens");
    assert_eq!(b1["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    assert!(b1.get("temperature").is_none(), "no temperature with thinking");
    assert!(b.get("seed").is_none(), "no seed at all");
    assert_eq!(b["temperature"], 1.0, "capped at 1");
    assert_eq!(b["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
    assert_eq!(b["tools"][0]["input_schema"], json!({"type": "object", "properties": {"path": {"type": "string"}}}));
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[0]["role"], "user");
    assert_eq!(m[0]["content"][1], json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}}));
    assert_eq!(m[1], json!({"role": "system", "content": "Mode: plan"}), "a mid-conversation system message keeps its place");
    assert_eq!(m[2]["role"], "assistant");
    assert_eq!(m[2]["content"][0], json!({"type": "tool_use", "id": "call_1", "name": "read", "input": {"path": "a.rs"}}));
    assert_eq!(m[2]["content"][1]["input"], json!({"_raw_arguments": "not json"}), "input is always an object");
    assert_eq!(m[3]["role"], "user");
    let results = m[3]["content"].as_array().unwrap();
    assert_eq!(results.len(), 3, "two results (one per call) then the user's text: {results:?}");
    assert_eq!(results[0], json!({"type": "tool_result", "tool_use_id": "call_1", "content": "fn main() {}"}));
    assert_eq!(results[1], json!({"type": "tool_result", "tool_use_id": "call_2", "content": "a.rs\nb.rs"}));
    assert_eq!(results[2], json!({"type": "text", "text": "go on"}));
    assert_eq!(m.len(), 4);
}

#[test]
fn thinking_budget_rules() {
    let r = |budget, effort| Reasoning { enabled: true, effort, budget_tokens: budget };
    assert_eq!(thinking_budget(&r(Some(500), None), 32_000), Some(1024), "raised to the minimum");
    assert_eq!(thinking_budget(&r(None, Some(Effort::Low)), 32_000), Some(2048));
    assert_eq!(thinking_budget(&r(Some(50_000), None), 8_000), Some(7_999));
    let ir = ChatRequest { reasoning: Some(r(None, Some(Effort::High))), stop: vec!["\n".into(), "END".into()], messages: vec![Message::text(Role::User, "q")], ..Default::default() };
    let b = encode_request(&ir, "m");
    assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS + 16_384, "room for the answer after thinking");
    assert_eq!(b["thinking"]["budget_tokens"], 16_384);
    assert_eq!(b["stop_sequences"], json!(["END"]));
    let xhigh = ChatRequest { reasoning: Some(r(None, Some(Effort::XHigh))), ..ir.clone() };
    assert_eq!(encode_request(&xhigh, "m")["max_tokens"], MAX_DEFAULT_TOKENS);
    assert_eq!(thinking_budget(&r(None, None), 1_000), None, "no room: no thinking");
    assert_eq!(thinking_budget(&Reasoning { enabled: false, effort: None, budget_tokens: None }, 9_000), None);
    let mut ir = ChatRequest { temperature: Some(0.3), top_p: Some(0.9), ..Default::default() };
    ir.messages.push(Message::text(Role::User, "hi"));
    let b = encode_request(&ir, "m");
    assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
    assert_eq!(b["temperature"], 0.3);
    assert!(b.get("top_p").is_none(), "not both");
    assert!(b.get("thinking").is_none() && b.get("stream").is_none() && b.get("tools").is_none() && b.get("tool_choice").is_none());
}

#[test]
fn unsigned_thinking_is_not_replayed_and_signed_is() {
    let ir = ChatRequest {
        messages: vec![
            Message::text(Role::User, "q"),
            Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "hm".into(), signature: None }, Part::Text("a".into())] },
            Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "ok".into(), signature: Some("sig".into()) }] },
            Message::text(Role::User, "q2"),
        ],
        ..Default::default()
    };
    let b = encode_request(&ir, "m");
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3, "consecutive assistant messages merge: {m:?}");
    assert_eq!(m[1]["content"], json!([{"type": "text", "text": "a"}, {"type": "thinking", "thinking": "ok", "signature": "sig"}]));
    let only_unsigned = ChatRequest {
        messages: vec![Message::text(Role::User, "q"), Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "hm".into(), signature: None }] }, Message::text(Role::User, "q2")],
        ..Default::default()
    };
    let m = encode_request(&only_unsigned, "m")["messages"].clone();
    assert_eq!(m.as_array().unwrap().len(), 2, "an empty turn is left out, never given invented text: {m}");
    // Signed by this gateway (thinking it translated from another origin): not Anthropic's.
    for sig in [UNSIGNED_THINKING, ""] {
        let marked = ChatRequest {
            messages: vec![Message::text(Role::User, "q"), Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "hm".into(), signature: Some(sig.into()) }, Part::Text("a".into())] }],
            ..Default::default()
        };
        assert_eq!(encode_request(&marked, "m")["messages"][1]["content"], json!([{"type": "text", "text": "a"}]));
    }
}

#[test]
fn ollama_and_responses_requests_encode() {
    let ol = ollama::decode_chat_request(&obj(json!({"model": "m", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"}
    ], "options": {"num_predict": 100}})))
    .unwrap();
    let b = encode_request(&ol, "claude");
    assert_eq!(b["max_tokens"], 100);
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[1]["content"][0]["type"], "tool_use");
    assert_eq!(m[1]["content"][0]["input"], json!({"city": "Paris"}));
    assert_eq!(m[2]["content"][0]["type"], "tool_result");
    assert_eq!(m[2]["content"][0]["tool_use_id"], m[1]["content"][0]["id"], "the result answers the call it follows");
    let rs = responses::decode_request(&obj(json!({"model": "m", "instructions": "Be brief.", "input": "hi"}))).unwrap();
    let b = encode_request(&rs, "claude");
    assert_eq!(b["system"], "Be brief.");
    assert_eq!(b["messages"], json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}]));
}

#[test]
fn non_stream_answer_to_ir() {
    let v = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-real", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "text", "text": "Let me check."},
        {"type": "server_tool_use", "id": "x", "name": "web_search", "input": {}},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ], "stop_reason": "tool_use", "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 7}});
    let r = decode_response(&v).unwrap();
    assert_eq!(r.text, "Let me check.");
    assert_eq!(r.reasoning, "hmm");
    assert_eq!(r.tool_calls, vec![ToolCall { id: "toolu_1".into(), name: "get_weather".into(), arguments: "{\"city\":\"Paris\"}".into() }]);
    assert_eq!(r.finish, FinishReason::ToolCalls);
    assert_eq!(r.usage, Some(Usage { prompt_tokens: 115, completion_tokens: 7, estimated: false, cached_tokens: 100, cache_write_tokens: 5, reasoning_tokens: 0 }));
    let oa = openai::encode_response(&r, "claude", 1);
    assert_eq!(oa["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(oa["choices"][0]["finish_reason"], "tool_calls");
    assert!(decode_response(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})).unwrap_err().contains("Overloaded"));
    for (s, f) in [
        ("end_turn", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("stop_sequence", FinishReason::StopSequence),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Stop),
    ] {
        assert_eq!(finish_from(s), f);
    }
}

fn stream_events() -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-real", "content": [], "usage": {"input_tokens": 20, "output_tokens": 1}}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Checking."}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
        json!({"type": "content_block_stop", "index": 2}),
        json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {"tz": "UTC"}}}),
        json!({"type": "content_block_stop", "index": 3}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]
}

#[test]
fn stream_events_to_chunks() {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for e in stream_events() {
        assert!(!d.done());
        d.frame(e.to_string().as_bytes(), &mut out).unwrap();
    }
    assert!(d.done());
    assert_eq!(
        out,
        vec![
            Chunk::Reasoning("hm".into()),
            Chunk::Text("Checking.".into()),
            Chunk::ToolCallStart { index: 0, id: "toolu_1".into(), name: "get_weather".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"city\":".into() },
            Chunk::ToolCallArgs { index: 0, delta: "\"Paris\"}".into() },
            Chunk::ToolCallStart { index: 1, id: "toolu_2".into(), name: "now".into() },
            Chunk::ToolCallArgs { index: 1, delta: "{\"tz\":\"UTC\"}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 20, completion_tokens: 9, estimated: false, ..Default::default() }),
        ]
    );
    let err = d.frame(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, &mut out).unwrap_err();
    assert_eq!(err, "Overloaded");
    assert!(d.frame(b"{nope", &mut out).is_err());
}
