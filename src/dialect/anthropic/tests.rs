//! Client-side Anthropic tests: request decoding (open list), count_tokens, answer encoders.
use super::super::ir::*;
use super::*;
use crate::dialect::test_support::{events, obj};
use crate::dialect::{ollama, openai, StreamEncoder as _};
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

/// The origin side: IR -> Messages body, Messages answers -> IR.
mod origin;

fn claude_code_request() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Working directory: /repo", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                {"type": "text", "text": "Fix the failing test", "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Need to read the test.", "signature": "sig=="},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "/repo/a.rs"}},
                {"type": "tool_use", "id": "toolu_02", "name": "Bash", "input": {"command": "cargo test"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "fn main() {}"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "is_error": true,
                 "content": [{"type": "text", "text": "exit 101"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}}]},
                {"type": "text", "text": "continue"}
            ]}
        ],
        "tools": [
            {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
            {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "metadata": {"user_id": "u"},
        "temperature": 1,
        "top_k": 5,
        "stop_sequences": ["</done>"]
    })
}

#[test]
fn decodes_claude_code_request() {
    let r = decode_request(&obj(claude_code_request())).unwrap();
    assert_eq!(r.system.len(), 2);
    assert_eq!(r.max_tokens, Some(32000));
    assert!(r.stream);
    assert_eq!(r.messages.len(), 4);
    assert_eq!(r.messages[0].parts.len(), 2);
    assert_eq!(r.messages[1].parts[0], Part::Thinking { text: "Need to read the test.".into(), signature: Some("sig==".into()) });
    assert_eq!(r.messages[1].parts[2], Part::ToolCall { id: "toolu_01".into(), name: "Read".into(), arguments: "{\"file_path\":\"/repo/a.rs\"}".into() });
    assert_eq!(r.messages[2].role, Role::Tool);
    assert_eq!(r.messages[2].parts[1], Part::ToolResult { call_id: "toolu_02".into(), content: "exit 101".into(), is_error: true });
    assert_eq!(r.messages[3].role, Role::User);
    assert_eq!(r.messages[3].parts[0], Part::Image { media_type: Some("image/png".into()), data: ImageData::Base64("iVBORw0K".into()) });
    assert_eq!(r.messages[3].parts[1], Part::Text("continue".into()));
    assert_eq!(r.tools.len(), 2, "server tool dropped");
    assert_eq!(r.tool_choice, Some(ToolChoice::Required), "any = required, never a null name");
    assert_eq!(r.parallel_tool_calls, Some(false));
    assert_eq!(r.reasoning.unwrap().budget_tokens, Some(16000));
    assert_eq!(r.stop, vec!["</done>"]);
}

#[test]
fn request_errors_name_the_field() {
    let base = claude_code_request();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("max_tokens");
            }),
            "max_tokens",
        ),
        (Box::new(|v| v["system"] = json!(3)), "system"),
        (Box::new(|v| v["messages"][0]["role"] = json!("tool")), "messages[0].role"),
        (Box::new(|v| v["messages"][1]["content"][2]["input"] = json!("x")), "messages[1].content[2].input"),
        (
            Box::new(|v| {
                v["messages"][2]["content"][0].as_object_mut().unwrap().remove("tool_use_id");
            }),
            "messages[2].content[0].tool_use_id",
        ),
        (Box::new(|v| v["messages"][0]["content"][0] = json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "x"}})), "messages[0].content[0].source.type"),
        (Box::new(|v| v["messages"][0]["content"][0] = json!({"type": "image", "source": {"type": "file", "file_id": "f"}})), "messages[0].content[0].source.type"),
        (
            Box::new(|v| {
                v["tools"][0]["input_schema"] = json!("a schema");
            }),
            "tools[0].input_schema",
        ),
        (Box::new(|v| v["tool_choice"] = json!({"type": "tool"})), "tool_choice.name"),
        (Box::new(|v| v["thinking"] = json!({"type": "enabled", "budget_tokens": "lots"})), "thinking.budget_tokens"),
        (Box::new(|v| v["stop_sequences"] = json!([1])), "stop_sequences[0]"),
        (Box::new(|v| v["temperature"] = json!("warm")), "temperature"),
        (
            Box::new(|v| {
                v["messages"][1].as_object_mut().unwrap().remove("content");
            }),
            "messages[1].content",
        ),
    ];
    for (mutate, field) in cases {
        let mut v = base.clone();
        mutate(&mut v);
        let e = decode_request(&obj(v)).unwrap_err();
        assert_eq!(e.field(), Some(field));
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn url_images_and_text_documents() {
    let r = decode_request(&obj(json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x/cat.jpg"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc body"}}
    ]}]})))
    .unwrap();
    assert_eq!(r.messages[0].parts[0], Part::Image { media_type: None, data: ImageData::Url("https://x/cat.jpg".into()) });
    assert_eq!(r.messages[0].parts[1], Part::Text("doc body".into()));
    let b = openai::encode_request(&r, "m");
    assert_eq!(b["messages"][0]["content"][0]["image_url"]["url"], "https://x/cat.jpg");
}

#[test]
fn count_tokens_estimate() {
    let body = json!({"model": "m", "system": "abcd", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "12345678"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
    ]}], "tools": [{"name": "ab", "input_schema": {}}]});
    // chars: 4 + 8 + 2 + 2 ("{}") = 16 -> 4 tokens, + one image.
    assert_eq!(count_tokens(&obj(body)).unwrap(), 4 + IMAGE_TOKENS);
    assert_eq!(count_tokens(&obj(json!({"model": "m", "messages": []}))).unwrap(), 1);
    assert_eq!(count_tokens(&obj(json!({"model": "m"}))).unwrap_err().field(), Some("messages"));
    let pdf = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}}]}]});
    assert!(count_tokens(&obj(pdf)).unwrap() > 1, "untranslatable content is still estimated");
}

#[test]
fn non_stream_response_blocks_and_stop_reasons() {
    let resp = ChatResponse {
        id: "msg_1".into(),
        text: "Done.".into(),
        reasoning: "ok".into(),
        tool_calls: vec![ToolCall { id: String::new(), name: "Bash".into(), arguments: "{\"command\":\"ls\"}".into() }],
        finish: FinishReason::ToolCalls,
        usage: Some(Usage { prompt_tokens: 11, completion_tokens: 22, estimated: false, ..Default::default() }),
    };
    let v = encode_response(&resp, "claude-x");
    assert_eq!(v["model"], "claude-x");
    assert_eq!(v["content"][0], json!({"type": "thinking", "thinking": "ok", "signature": UNSIGNED_THINKING}), "marked as not Anthropic's");
    assert_eq!(v["content"][1], json!({"type": "text", "text": "Done."}));
    assert_eq!(v["content"][2], json!({"type": "tool_use", "id": "call_1_0", "name": "Bash", "input": {"command": "ls"}}));
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["usage"], json!({"input_tokens": 11, "output_tokens": 22}));
    for (f, s) in [(FinishReason::Length, "max_tokens"), (FinishReason::StopSequence, "stop_sequence"), (FinishReason::Stop, "end_turn"), (FinishReason::ContentFilter, "refusal")] {
        let r = ChatResponse { finish: f, tool_calls: vec![], usage: None, ..resp.clone() };
        let v = encode_response(&r, "c");
        assert_eq!(v["stop_reason"], s);
        assert_eq!(v["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
    }
    let v = encode_response(&ChatResponse::default(), "c");
    assert_eq!(v["content"], json!([{"type": "text", "text": ""}]));
}

#[test]
fn stream_stop_reasons_without_usage_and_empty_answers() {
    let mut e = StreamEncoder::new("c", "msg_1", 0);
    let mut out = Vec::new();
    e.chunk(&Chunk::Text("cut".into()), &mut out);
    e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
    e.finish(&mut out);
    let ev = events(&out);
    assert_eq!(ev[0].0, "message_start", "chunk() starts the stream itself");
    let md = &ev[ev.len() - 2].1;
    assert_eq!(md["delta"]["stop_reason"], "max_tokens");
    assert_eq!(md["usage"], json!({"output_tokens": 0}));

    let mut e = StreamEncoder::new("c", "msg_1", 0);
    let mut out = Vec::new();
    e.finish(&mut out);
    let names: Vec<String> = events(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["message_start", "ping", "content_block_start", "content_block_stop", "message_delta", "message_stop"]);
}

#[test]
fn stream_error_endings() {
    let mut e = StreamEncoder::new("c", "msg_1", 0);
    let mut out = Vec::new();
    e.start(&mut out);
    e.chunk(&Chunk::Text("partial".into()), &mut out);
    e.error("upstream connection reset", &mut out);
    e.finish(&mut out);
    let ev = events(&out);
    let (n, d) = ev.last().unwrap();
    assert_eq!(n, "error");
    assert_eq!(d["error"], json!({"type": "api_error", "message": "upstream connection reset"}));
    assert!(!ev.iter().any(|(n, _)| n == "message_stop" || n == "message_delta"));

    let mut e = StreamEncoder::new("c", "msg_1", 0);
    let mut out = Vec::new();
    e.error_typed("overloaded_error", "busy", &mut out);
    assert_eq!(events(&out)[0].1["error"]["type"], "overloaded_error");

    // Interleaved tool arguments cannot be represented: in-band error, no success end.
    let mut e = StreamEncoder::new("c", "msg_1", 0);
    let mut out = Vec::new();
    e.chunk(&Chunk::ToolCallStart { index: 0, id: "a".into(), name: "f".into() }, &mut out);
    e.chunk(&Chunk::ToolCallStart { index: 1, id: "b".into(), name: "g".into() }, &mut out);
    e.chunk(&Chunk::ToolCallArgs { index: 0, delta: "{}".into() }, &mut out);
    e.finish(&mut out);
    let ev = events(&out);
    assert_eq!(ev.last().unwrap().0, "error");
    assert!(!ev.iter().any(|(n, _)| n == "message_stop"));
}

#[test]
fn no_panic_on_type_confusion() {
    for v in crate::dialect::test_support::type_confusions(&claude_code_request()) {
        if let Value::Object(m) = &v {
            match decode_request(m) {
                Err(e) => assert!(e.status() == 400 && e.field().is_some(), "{e}"),
                Ok(r) => {
                    let _ = openai::encode_request(&r, "x");
                    let _ = ollama::encode_chat_request(&r, "x");
                }
            }
            let _ = count_tokens(m);
        }
    }
}

/// What Claude Code 2.1.332 sends: a system message after the first user turn, beta fields
/// (`context_management`, `output_config`), deferred tools, `tool_reference` blocks, block types
/// and fields this gateway has never seen.
pub(crate) fn claude_code_2_1_332_request() -> Value {
    json!({
        "model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Fix the test", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": "<system-reminder>Plan mode is active.</system-reminder>"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Need the tool.", "signature": "EqQBCkYIBxgCKkB+/=="},
                {"type": "tool_use", "id": "toolu_01", "name": "ToolSearch", "input": {"query": "read"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [
                    {"type": "tool_reference", "tool_name": "Read"},
                    {"type": "text", "text": "found 1 tool"}
                ]},
                {"type": "future_block", "payload": {"x": 1}},
                {"type": "annotated_text", "text": "an unknown block with text"}
            ]},
            {"role": "system", "content": [{"type": "text", "text": "Context: 40% used"}]}
        ],
        "tools": [
            {"name": "ToolSearch", "description": "Find tools", "input_schema": {"type": "object"}},
            {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}, "defer_loading": true, "strict": true}
        ],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "output_config": {"effort": "medium"},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "some_future_field": [1, 2, 3]
    })
}

#[test]
fn decodes_claude_code_2_1_332_for_translated_legs() {
    let r = decode_request(&obj(claude_code_2_1_332_request())).unwrap();
    assert_eq!(r.system, vec!["You are Claude Code."]);
    let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::System, Role::Assistant, Role::Tool, Role::User, Role::System]);
    assert_eq!(r.messages[1], Message::text(Role::System, "<system-reminder>Plan mode is active.</system-reminder>"));
    assert_eq!(r.messages[3].parts, vec![Part::ToolResult { call_id: "toolu_01".into(), content: "found 1 tool".into(), is_error: false }]);
    assert_eq!(r.messages[4].parts, vec![Part::Text("an unknown block with text".into())]);
    assert_eq!(r.tools.len(), 2);
    assert_eq!(r.reasoning, Some(Reasoning { enabled: true, effort: Some(Effort::Medium), budget_tokens: None }));

    // OpenAI origin: the system messages keep their places; nothing Anthropic-only leaks.
    let b = openai::encode_request(&r, "qwen3-coder");
    let m = b["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "system", "assistant", "tool", "user", "system"]);
    assert_eq!(m[2]["content"], "<system-reminder>Plan mode is active.</system-reminder>");
    let text = b.to_string();
    for leaked in ["cache_control", "defer_loading", "context_management", "output_config", "tool_reference", "future_block", "some_future_field", "strict"] {
        assert!(!text.contains(leaked), "{leaked} reached the OpenAI origin: {text}");
    }
    // Ollama origin: the same.
    let o = ollama::encode_chat_request(&r, "qwen3-coder:30b").unwrap();
    let roles: Vec<&str> = o["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "system", "assistant", "tool", "user", "system"]);
    assert!(!o.to_string().contains("defer_loading"));
}

#[test]
fn leading_system_messages_join_the_system_prompt() {
    let r = decode_request(&obj(json!({"model": "m", "max_tokens": 5, "system": "A", "messages": [
        {"role": "system", "content": "B"}, {"role": "user", "content": "q"}
    ]})))
    .unwrap();
    assert_eq!(r.system, vec!["A", "B"]);
    assert_eq!(r.messages.len(), 1);
}
