//! OpenAI chat: request decoding and encoding, answers and streams in both directions.
use super::super::ir::*;
use super::super::StreamEncoder as _;
use super::*;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

use crate::dialect::test_support::obj;

fn sse_payloads(bytes: &[u8]) -> Vec<String> {
    let s = std::str::from_utf8(bytes).unwrap();
    s.split("\n\n").filter(|b| !b.is_empty()).map(|b| b.strip_prefix("data: ").unwrap().to_string()).collect()
}

fn full_request() -> Value {
    json!({
        "model": "qwen-display",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "use tools"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AAAA", "detail": "high"}},
                {"type": "image_url", "image_url": "https://example.com/cat.png"}
            ]},
            {"role": "assistant", "content": null, "reasoning_content": "let me look",
             "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "noargs", "arguments": ""}}
             ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "a cat"},
            {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "ok"}]},
            {"role": "system", "content": "late note"},
            {"role": "user", "content": "thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "find", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
                  {"type": "function", "function": {"name": "noargs"}},
                  {"type": "custom", "custom": {"name": "free"}}],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": false,
        "max_completion_tokens": 500,
        "temperature": 0.2,
        "stop": "END",
        "seed": 7,
        "reasoning_effort": "minimal",
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}},
        "user": "u-1",
        "logit_bias": {"1": 2}
    })
}

#[test]
fn decodes_a_full_request() {
    let r = decode_request(&obj(full_request())).unwrap();
    assert_eq!(r.model, "qwen-display");
    assert!(r.stream);
    assert_eq!(r.system, vec!["be brief", "use tools"]);
    assert_eq!(r.messages.len(), 6);
    assert_eq!(r.messages[0].parts.len(), 3);
    assert_eq!(r.messages[0].parts[1], Part::Image { media_type: Some("image/jpeg".into()), data: ImageData::Base64("/9j/AAAA".into()) });
    assert_eq!(r.messages[0].parts[2], Part::Image { media_type: None, data: ImageData::Url("https://example.com/cat.png".into()) });
    assert_eq!(r.messages[1].parts[0], Part::Thinking { text: "let me look".into(), signature: None });
    assert_eq!(r.messages[1].parts.len(), 3);
    assert_eq!(r.messages[3].parts[0], Part::ToolResult { call_id: "call_b".into(), content: "ok".into(), is_error: false });
    assert_eq!(r.messages[4].role, Role::System);
    assert_eq!(r.tools.len(), 2, "custom tool dropped");
    assert_eq!(r.tools[1].parameters, json!({"type": "object", "properties": {}}));
    assert_eq!(r.tool_choice, Some(ToolChoice::Named("lookup".into())));
    assert_eq!(r.parallel_tool_calls, Some(false));
    assert_eq!(r.max_tokens, Some(500));
    assert_eq!(r.stop, vec!["END"]);
    assert_eq!(r.seed, Some(7));
    assert_eq!(r.reasoning.unwrap().effort, Some(Effort::Minimal));
    assert_eq!(r.response_format.as_ref().unwrap()["json_schema"]["strict"], true);
    assert_eq!(r.extra.get("user"), Some(&json!("u-1")));
    assert!(r.extra.contains_key("max_completion_tokens"));
    assert!(!r.extra.contains_key("stream_options"));
    assert!(include_usage(&obj(full_request())));
}

#[test]
fn deepseek_reasoning_is_replayed_only_unsigned_and_only_with_tool_calls() {
    let call = Part::ToolCall { id: "c1".into(), name: "f".into(), arguments: "{}".into() };
    let think = |sig: Option<&str>| Part::Thinking { text: "plan".into(), signature: sig.map(String::from) };
    let turn = |parts: Vec<Part>| ChatRequest { messages: vec![Message::text(Role::User, "q"), Message { role: Role::Assistant, parts }], ..Default::default() };
    let m = |r: &ChatRequest, model: &str| encode_request(r, model)["messages"][1].clone();
    assert_eq!(m(&turn(vec![think(None), call.clone()]), "deepseek-v3.2")["reasoning_content"], "plan");
    assert_eq!(m(&turn(vec![think(Some(UNSIGNED_THINKING)), call.clone()]), "Kimi-K2-Thinking")["reasoning_content"], "plan", "the gateway's own marker: not Anthropic's");
    assert!(m(&turn(vec![think(Some("EqQB")), call.clone()]), "deepseek-v3.2").get("reasoning_content").is_none(), "Anthropic's thinking is not DeepSeek's");
    assert!(m(&turn(vec![think(None), Part::Text("a".into())]), "deepseek-v3.2").get("reasoning_content").is_none(), "no tool calls: not needed");
    assert!(m(&turn(vec![think(None), call]), "gpt-4.1").get("reasoning_content").is_none(), "other origins: never");
}

#[test]
fn cross_family_request_maps_effort_and_drops_extra() {
    let mut r = decode_request(&obj(full_request())).unwrap();
    r.extra_family = Some(Family::Ollama);
    r.stream = false;
    r.reasoning = Some(Reasoning { enabled: true, effort: None, budget_tokens: Some(20_000) });
    r.messages.push(Message { role: Role::Tool, parts: vec![Part::ToolResult { call_id: "x".into(), content: "boom".into(), is_error: true }] });
    let b = encode_request(&r, "m");
    assert!(b.get("user").is_none());
    assert!(b.get("stream_options").is_none());
    assert_eq!(b["max_tokens"], 500);
    assert_eq!(b["reasoning_effort"], "high");
    let last = b["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"], "Error: boom");
    r.tools.clear();
    let b = encode_request(&r, "m");
    assert!(b.get("parallel_tool_calls").is_none());
}

#[test]
fn bad_requests_name_the_field() {
    let cases = [
        (json!({"messages": []}), "model"),
        (json!({"model": "m"}), "messages"),
        (json!({"model": "m", "messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
        (json!({"model": "m", "messages": [{"role": "wizard"}]}), "messages[0].role"),
        (json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}), "messages[0].tool_call_id"),
        (json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}), "messages[0].content[0].type"),
        (json!({"model": "m", "messages": [], "tools": [{"type": "function", "function": {}}]}), "tools[0].function.name"),
        (json!({"model": "m", "messages": [], "n": 3}), "n"),
        (json!({"model": "m", "messages": [], "reasoning_effort": "ultra"}), "reasoning_effort"),
        (json!({"model": "m", "messages": [], "temperature": "hot"}), "temperature"),
        (json!({"model": "m", "messages": [], "stop": [1]}), "stop[0]"),
        (json!({"model": "m", "messages": [], "functions": []}), "functions"),
        (json!({"model": "m", "messages": [], "response_format": {"type": "json_schema"}}), "response_format.json_schema"),
        (json!({"model": "m", "messages": "hi"}), "messages"),
        (json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}]}), "messages[0].tool_calls[0].function.arguments"),
    ];
    for (body, field) in cases {
        let e = decode_request(&obj(body.clone())).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.field(), Some(field), "body {body}");
    }
}

#[test]
fn allowed_tools_filters_the_list() {
    let r = decode_request(&obj(json!({
        "model": "m", "messages": [],
        "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "b"}}]}}
    })))
    .unwrap();
    assert_eq!(r.tools.len(), 1);
    assert_eq!(r.tools[0].name, "b");
    assert_eq!(r.tool_choice, Some(ToolChoice::Required));
}

fn feed(d: &mut StreamDecoder, v: Value) -> Vec<Chunk> {
    let mut out = Vec::new();
    d.frame(v.to_string().as_bytes(), &mut out).unwrap();
    out
}

#[test]
fn stream_tool_calls_merge_by_index_across_entries() {
    let mut d = StreamDecoder::new();
    let mut all = Vec::new();
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})));
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"reasoning_content": "plan"}}]})));
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"content": "Let me check."}}]})));
    // Two calls start in one delta; arguments arrive in pieces, interleaved by index.
    all.extend(feed(
        &mut d,
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "read", "arguments": ""}},
            {"index": 1, "id": "call_2", "type": "function", "function": {"name": "grep", "arguments": "{\"pat"}}
        ]}}]}),
    ));
    all.extend(feed(
        &mut d,
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "{\"path\":"}},
            {"index": 1, "function": {"arguments": "\":\"x\"}"}}
        ]}}]}),
    ));
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"a.rs\"}"}}]}}]})));
    // A third call whose name arrives after its first arguments.
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 2, "id": "call_3", "function": {"arguments": "{}"}}]}}]})));
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 2, "function": {"name": "ls"}}]}}]})));
    all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})));
    all.extend(feed(&mut d, json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}})));
    assert_eq!(
        all,
        vec![
            Chunk::Reasoning("plan".into()),
            Chunk::Text("Let me check.".into()),
            Chunk::ToolCallStart { index: 0, id: "call_1".into(), name: "read".into() },
            Chunk::ToolCallStart { index: 1, id: "call_2".into(), name: "grep".into() },
            Chunk::ToolCallArgs { index: 1, delta: "{\"pat".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"path\":".into() },
            Chunk::ToolCallArgs { index: 1, delta: "\":\"x\"}".into() },
            Chunk::ToolCallArgs { index: 0, delta: "\"a.rs\"}".into() },
            Chunk::ToolCallStart { index: 2, id: "call_3".into(), name: "ls".into() },
            Chunk::ToolCallArgs { index: 2, delta: "{}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 12, completion_tokens: 34, estimated: false, ..Default::default() }),
        ]
    );
    let mut r = ChatResponse::default();
    all.iter().for_each(|c| r.push_chunk(c));
    assert_eq!(r.tool_calls[0].arguments, "{\"path\":\"a.rs\"}");
    assert_eq!(r.tool_calls[1].arguments, "{\"pat\":\"x\"}");
}

#[test]
fn stream_decoder_edge_cases() {
    let mut d = StreamDecoder::new();
    // `reasoning` (Ollama/OpenRouter spelling), other choices ignored, stop upgraded.
    let c = feed(&mut d, json!({"choices": [{"index": 1, "delta": {"content": "no"}}, {"index": 0, "delta": {"reasoning": "r"}}]}));
    assert_eq!(c, vec![Chunk::Reasoning("r".into())]);
    let c = feed(&mut d, json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "x", "function": {"name": "f", "arguments": {"a": 1}}}]}}]}));
    assert_eq!(c[1], Chunk::ToolCallArgs { index: 0, delta: "{\"a\":1}".into() });
    let c = feed(&mut d, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    assert_eq!(c, vec![Chunk::Finish(FinishReason::ToolCalls)]);
    // Error objects inside the stream.
    let mut out = Vec::new();
    let e = d.frame(br#"{"error":{"message":"CUDA out of memory","type":"server_error"}}"#, &mut out).unwrap_err();
    assert_eq!(e, "CUDA out of memory");
    assert!(d.frame(b"{not json", &mut out).is_err());
    assert!(d.frame(b"  ", &mut out).is_ok());
    // Length, and vLLM-style usage on a chunk with choices.
    let mut d = StreamDecoder::new();
    let c = feed(&mut d, json!({"choices": [{"index": 0, "delta": {"content": "ab"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}));
    assert_eq!(c[1], Chunk::Finish(FinishReason::Length));
    assert!(matches!(c[2], Chunk::Usage(_)));
}

#[test]
fn stream_encoder_without_usage_and_on_error() {
    let mut e = StreamEncoder::new("d", "id", 1, true);
    let mut out = Vec::new();
    e.chunk(&Chunk::Text("x".into()), &mut out);
    e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
    e.finish(&mut out);
    let p = sse_payloads(&out);
    assert_eq!(p.len(), 4, "role, text, finish, DONE — no invented usage chunk");
    assert!(p[2].contains("\"finish_reason\":\"length\""));

    let mut e = StreamEncoder::new("d", "id", 1, false);
    let mut out = Vec::new();
    e.start(&mut out);
    e.chunk(&Chunk::Text("partial".into()), &mut out);
    e.error("origin reset", &mut out);
    e.finish(&mut out);
    let s = String::from_utf8(out).unwrap();
    assert!(!s.contains("[DONE]"));
    assert!(!s.contains("finish_reason\":\"stop"));
    let last = sse_payloads(s.as_bytes()).pop().unwrap();
    let v: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["error"]["message"], "origin reset");
}

#[test]
fn no_panic_on_type_confusion() {
    for v in crate::dialect::test_support::type_confusions(&full_request()) {
        if let Value::Object(m) = &v {
            if let Err(e) = decode_request(m) {
                assert_eq!(e.status(), 400);
                assert!(e.field().is_some(), "error names a field: {e}");
            } else if let Ok(r) = decode_request(m) {
                let _ = encode_request(&r, "x");
                let _ = crate::dialect::ollama::encode_chat_request(&r, "x");
            }
        }
    }
    let answer = json!({"id": "c", "choices": [{"index": 0, "message": {"content": "x", "reasoning_content": "r",
        "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "stop", "stop_reason": "s"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
    for v in crate::dialect::test_support::type_confusions(&answer) {
        let _ = decode_response(&v);
    }
    let chunk = json!({"choices": [{"index": 0, "delta": {"content": "x", "reasoning_content": "r",
        "tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for v in crate::dialect::test_support::type_confusions(&chunk) {
        let _ = d.frame(v.to_string().as_bytes(), &mut out);
    }
    for junk in [&b"\xff\xfe"[..], b"[]", b"null", b"\"str\"", b"{\"choices\":5}"] {
        let _ = d.frame(junk, &mut out);
    }
}
