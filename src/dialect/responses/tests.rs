//! Responses: request decoding, the response object and the event stream.
use super::super::ir::*;
use super::super::StreamEncoder as _;
use super::*;
use crate::dialect::test_support::{events, obj};
use crate::dialect::{ollama, openai};
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

fn assert_sequence_increasing(ev: &[(String, Value)]) {
    let seqs: Vec<u64> = ev.iter().map(|(_, d)| d["sequence_number"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    assert_eq!(seqs[0], 0);
}

fn codex_request() -> Value {
    json!({
        "model": "gpt-5-codex",
        "instructions": "You are Codex, a coding agent.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>workspace-write</permissions>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd=/repo</environment_context>"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "why does the build fail?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo", "detail": "auto"}
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Check the build."}], "encrypted_content": "gAAA"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_A", "name": "shell", "arguments": "{\"command\":[\"cargo\",\"build\"]}"},
            {"type": "function_call", "call_id": "call_B", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
            {"type": "function_call_output", "call_id": "call_A", "output": "error[E0425]"},
            {"type": "function_call_output", "call_id": "call_B", "output": [{"type": "input_text", "text": "src"}, {"type": "input_image", "image_url": "https://x/s.png"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A name is unresolved."}]},
            {"type": "message", "role": "developer", "content": "model switched"},
            {"role": "user", "content": "fix it"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"}
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Run a command", "strict": false,
             "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}, "required": ["command"]}},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
            {"type": "web_search"}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "high", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "abc",
        "max_output_tokens": 4096,
        "text": {"verbosity": "low"}
    })
}

#[test]
fn decodes_codex_request() {
    let r = decode_request(&obj(codex_request())).unwrap();
    assert!(r.stream);
    assert_eq!(r.system, vec!["You are Codex, a coding agent.", "<permissions>workspace-write</permissions>"]);
    assert_eq!(r.messages[0], Message::text(Role::User, "<environment_context>cwd=/repo</environment_context>"));
    assert_eq!(r.messages[1].parts[1], Part::Image { media_type: Some("image/png".into()), data: ImageData::Base64("iVBORw0KGgo".into()) });
    let a = &r.messages[2];
    assert_eq!(a.role, Role::Assistant);
    assert_eq!(a.parts.len(), 2, "two calls merge into one assistant turn; OpenAI's encrypted reasoning is nobody's here");
    assert_eq!(a.parts[1], Part::ToolCall { id: "call_B".into(), name: "shell".into(), arguments: "{\"command\":[\"ls\"]}".into() });
    assert_eq!(r.messages[3].role, Role::Tool);
    assert_eq!(r.messages[3].parts.len(), 2);
    assert_eq!(r.messages[3].parts[1], Part::ToolResult { call_id: "call_B".into(), content: "src".into(), is_error: false });
    assert_eq!(r.messages[4].parts, vec![Part::Image { media_type: None, data: ImageData::Url("https://x/s.png".into()) }]);
    assert_eq!(r.messages[5], Message::text(Role::Assistant, "A name is unresolved."));
    assert_eq!(r.messages[6], Message::text(Role::System, "model switched"));
    assert_eq!(r.messages[7], Message::text(Role::User, "fix it"));
    assert_eq!(r.messages.len(), 8, "web_search_call dropped");
    assert_eq!(r.tools.len(), 2, "shell and apply_patch (custom); web_search is hosted");
    assert_eq!(r.tools[1].name, "apply_patch");
    assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(r.parallel_tool_calls, Some(false));
    assert_eq!(r.max_tokens, Some(4096));
    assert_eq!(r.reasoning.unwrap().effort, Some(Effort::High));
}

#[test]
fn codex_round_trip_to_origins() {
    let r = decode_request(&obj(codex_request())).unwrap();
    let b = openai::encode_request(&r, "gpt-oss-120b");
    assert_eq!(b["model"], "gpt-oss-120b");
    assert_eq!(b["max_tokens"], 4096);
    assert_eq!(b["reasoning_effort"], "high");
    assert_eq!(b["stream_options"]["include_usage"], true);
    assert!(b.get("store").is_none() && b.get("include").is_none());
    assert_eq!(b["tools"][0]["function"]["name"], "shell");
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[0]["content"], "You are Codex, a coding agent.\n\n<permissions>workspace-write</permissions>");
    assert_eq!(m[3]["role"], "assistant");
    assert_eq!(m[3]["content"], Value::Null);
    assert_eq!(m[3]["tool_calls"][0]["id"], "call_A");
    assert_eq!(m[4], json!({"role": "tool", "tool_call_id": "call_A", "content": "error[E0425]"}));
    assert_eq!(m[5], json!({"role": "tool", "tool_call_id": "call_B", "content": "src"}));
    assert_eq!(m[6]["content"][0]["image_url"]["url"], "https://x/s.png");
    assert_eq!(m[7], json!({"role": "assistant", "content": "A name is unresolved."}));
    assert_eq!(m[8], json!({"role": "system", "content": "model switched"}));

    // To Ollama the remote screenshot cannot travel; without it the rest does.
    assert_eq!(ollama::encode_chat_request(&r, "gpt-oss:120b").unwrap_err().status(), 400);
    let mut r2 = r.clone();
    r2.messages.remove(4);
    let o = ollama::encode_chat_request(&r2, "gpt-oss:120b").unwrap();
    assert_eq!(o["think"], true);
    assert!(o["messages"][3].get("thinking").is_none(), "reasoning from another origin is not replayed");
    assert_eq!(o["messages"][3]["tool_calls"][0]["function"]["arguments"], json!({"command": ["cargo", "build"]}));
    assert_eq!(o["messages"][5]["tool_name"], "shell");
}

/// Codex's `apply_patch` (custom, with a grammar) and an MCP namespace, offered and called.
fn codex_tools_request() -> Value {
    json!({
        "model": "m", "stream": true,
        "input": [
            {"role": "user", "content": "fix the typo"},
            {"type": "reasoning", "id": "rs_ab_0", "summary": [{"type": "summary_text", "text": "patch it"}], "encrypted_content": tools::origin_tag(7, "qwen3:8b")},
            {"type": "custom_tool_call", "id": "ctc_ab_1", "call_id": "call_P", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"},
            {"type": "custom_tool_call_output", "call_id": "call_P", "output": "Success. Updated the following files:\nM a.txt"},
            {"type": "function_call", "call_id": "call_M", "name": "search", "namespace": "mcp__wiki__", "arguments": "{\"q\":\"typo\"}"},
            {"type": "function_call_output", "call_id": "call_M", "output": "no hits"}
        ],
        "tools": [
            {"type": "custom", "name": "apply_patch", "description": "Use the `apply_patch` tool to edit files.", "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
            {"type": "namespace", "name": "mcp__wiki__", "description": "Wiki", "tools": [{"type": "function", "name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}
        ],
        "tool_choice": {"type": "custom", "name": "apply_patch"}
    })
}

#[test]
fn custom_and_namespace_tools_reach_every_origin_as_functions() {
    let mut r = decode_request(&obj(codex_tools_request())).unwrap();
    assert_eq!(r.tool_choice, Some(ToolChoice::Named("apply_patch".into())));
    let a = &r.messages[1];
    assert_eq!(a.parts[0], Part::Thinking { text: "patch it".into(), signature: Some(tools::origin_tag(7, "qwen3:8b")) });
    assert_eq!(a.parts[1], Part::ToolCall { id: "call_P".into(), name: "apply_patch".into(), arguments: "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}".into() });
    assert_eq!(r.messages[2].parts[0], Part::ToolResult { call_id: "call_P".into(), content: "Success. Updated the following files:\nM a.txt".into(), is_error: false });
    assert_eq!(r.messages[3].parts[0], Part::ToolCall { id: "call_M".into(), name: "mcp__wiki__search".into(), arguments: "{\"q\":\"typo\"}".into() });

    tools::settle_reasoning(&mut r, 7, "qwen3:8b");
    let b = openai::encode_request(&r, "qwen3");
    assert_eq!(b["tools"][0]["function"]["name"], "apply_patch");
    assert_eq!(b["tools"][0]["function"]["parameters"]["properties"]["input"]["type"], "string");
    assert_eq!(b["tools"][1]["function"]["name"], "mcp__wiki__search");
    assert_eq!(b["tool_choice"], json!({"type": "function", "function": {"name": "apply_patch"}}));
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[1]["tool_calls"][0]["function"], json!({"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}));
    assert_eq!(m[2], json!({"role": "tool", "tool_call_id": "call_P", "content": "Success. Updated the following files:\nM a.txt"}));
    let o = ollama::encode_chat_request(&r, "qwen3:8b").unwrap();
    assert_eq!(o["messages"][1]["thinking"], "patch it", "the origin that produced the reasoning gets it back");
    assert_eq!(o["messages"][1]["tool_calls"][0]["function"]["arguments"], json!({"input": "*** Begin Patch\n*** End Patch\n"}));
    assert_eq!(o["messages"][2]["tool_name"], "apply_patch");
    assert_eq!(o["tools"][1]["function"]["name"], "mcp__wiki__search");
    let an = crate::dialect::anthropic::encode_request(&r, "claude");
    assert_eq!(an["tools"][0]["name"], "apply_patch");
    assert_eq!(an["tools"][0]["input_schema"]["required"], json!(["input"]));
}

#[test]
fn origin_calls_come_back_as_custom_and_namespaced_items() {
    let map = tools::map_of(&obj(codex_tools_request()));
    let tag = tools::origin_tag(7, "qwen3:8b");
    let resp = ChatResponse {
        id: "resp_ab".into(),
        reasoning: "patch".into(),
        tool_calls: vec![
            ToolCall { id: "call_1".into(), name: "apply_patch".into(), arguments: "{\"input\":\"*** Begin Patch\\n+x\\n*** End Patch\"}".into() },
            ToolCall { id: "call_2".into(), name: "mcp__wiki__search".into(), arguments: "{\"q\":1}".into() },
            ToolCall { id: "call_3".into(), name: "invented".into(), arguments: "{}".into() },
        ],
        finish: FinishReason::ToolCalls,
        usage: Some(Usage { prompt_tokens: 5, completion_tokens: 2, estimated: false, ..Default::default() }),
        ..Default::default()
    };
    let v = encode_response_with(&resp, "m", 1, ReasoningStyle::Summary, &map, Some(&tag));
    let o = v["output"].as_array().unwrap();
    assert_eq!(o[0]["encrypted_content"], json!(tag));
    assert_eq!(o[1], json!({"id": "ctc_ab_1", "type": "custom_tool_call", "status": "completed", "call_id": "call_1", "name": "apply_patch", "input": "*** Begin Patch\n+x\n*** End Patch"}));
    assert_eq!(o[2], json!({"id": "fc_ab_2", "type": "function_call", "status": "completed", "call_id": "call_2", "name": "search", "namespace": "mcp__wiki__", "arguments": "{\"q\":1}"}));
    assert_eq!(o[3]["name"], "invented");

    // Streamed: the custom input arrives whole when the call closes.
    let mut e = StreamEncoder::new("m", "resp_ab", 1).with_tools(map).with_origin_tag(tag.clone());
    let mut out = Vec::new();
    for c in [
        Chunk::Reasoning("patch".into()),
        Chunk::ToolCallStart { index: 0, id: "call_1".into(), name: "apply_patch".into() },
        Chunk::ToolCallArgs { index: 0, delta: "{\"input\":\"*** Begin".into() },
        Chunk::ToolCallArgs { index: 0, delta: " Patch\\n*** End Patch\"}".into() },
        Chunk::ToolCallStart { index: 1, id: "call_2".into(), name: "mcp__wiki__search".into() },
        Chunk::ToolCallArgs { index: 1, delta: "{}".into() },
        Chunk::Finish(FinishReason::ToolCalls),
    ] {
        e.chunk(&c, &mut out);
    }
    e.finish(&mut out);
    let ev = events(&out);
    assert_sequence_increasing(&ev);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"response.function_call_arguments.delta") || ev.iter().filter(|(n, _)| n == "response.function_call_arguments.delta").all(|(_, d)| d["item_id"] == "fc_ab_2"));
    let added = ev.iter().find(|(n, d)| n == "response.output_item.added" && d["item"]["type"] == "custom_tool_call").unwrap();
    assert_eq!(added.1["item"]["input"], "");
    // The raw input streams as the origin writes it (unescaped out of its JSON arguments).
    let deltas: Vec<&Value> = ev.iter().filter(|(n, _)| n == "response.custom_tool_call_input.delta").map(|(_, d)| d).collect();
    assert_eq!(deltas.len(), 2, "one per arguments delta that carried input");
    assert_eq!(deltas[0]["delta"], "*** Begin");
    assert_eq!(deltas.iter().map(|d| d["delta"].as_str().unwrap()).collect::<String>(), "*** Begin Patch\n*** End Patch");
    assert!(deltas.iter().all(|d| d["item_id"] == "ctc_ab_1"));
    let done = ev.iter().find(|(n, _)| n == "response.custom_tool_call_input.done").unwrap();
    assert_eq!(done.1["input"], "*** Begin Patch\n*** End Patch");
    let (last, d) = ev.last().unwrap();
    assert_eq!(last, "response.completed");
    let outs = d["response"]["output"].as_array().unwrap();
    assert_eq!(outs[0]["encrypted_content"], json!(tag));
    assert_eq!(outs[1]["type"], "custom_tool_call");
    assert_eq!(outs[1]["input"], "*** Begin Patch\n*** End Patch");
    assert_eq!((outs[2]["name"].as_str(), outs[2]["namespace"].as_str()), (Some("search"), Some("mcp__wiki__")));
    // No usage from the origin: an estimate, never none (Codex reads it every turn).
    assert_eq!(d["response"]["usage"]["total_tokens"], d["response"]["usage"]["input_tokens"].as_u64().unwrap() + d["response"]["usage"]["output_tokens"].as_u64().unwrap());
    assert!(d["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert_eq!(d["response"]["id"], "resp_ab");
}

#[test]
fn request_variants_and_errors() {
    let r = decode_request(&obj(json!({"model": "m", "input": "hi", "reasoning": {"effort": "none"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
        "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
        "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "a"}]}})))
    .unwrap();
    assert_eq!(r.messages, vec![Message::text(Role::User, "hi")]);
    assert_eq!(r.reasoning, Some(Reasoning { enabled: false, effort: None, budget_tokens: None }));
    assert_eq!(r.response_format.unwrap()["json_schema"], json!({"name": "out", "schema": {"type": "object"}, "strict": true}));
    assert_eq!(r.tools.len(), 1);
    assert_eq!(r.tool_choice, Some(ToolChoice::Required));
    let r = decode_request(&obj(json!({"model": "m", "input": [{"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "*** Begin"}, {"type": "custom_tool_call_output", "call_id": "c", "output": "ok"}], "tool_choice": {"type": "function", "name": "x"}}))).unwrap();
    assert_eq!(r.messages[0].parts[0], Part::ToolCall { id: "c".into(), name: "apply_patch".into(), arguments: "{\"input\":\"*** Begin\"}".into() });
    assert_eq!(r.tool_choice, Some(ToolChoice::Named("x".into())));

    for (body, field) in [
        (json!({"input": "x"}), "model"),
        (json!({"model": "m"}), "input"),
        (json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}), "previous_response_id"),
        (json!({"model": "m", "input": "x", "background": true}), "background"),
        (json!({"model": "m", "input": 5}), "input"),
        (json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}), "input[0].call_id"),
        (json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}), "input[0].type"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}), "input[0].content[0].type"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}), "input[0].content[0].file_id"),
        (json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}), "input[0].role"),
        (json!({"model": "m", "input": [{"foo": 1}]}), "input[0].type"),
        (json!({"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}), "reasoning.effort"),
        (json!({"model": "m", "input": "x", "max_output_tokens": -1}), "max_output_tokens"),
        (json!({"model": "m", "input": "x", "tool_choice": {"type": "web_search_preview"}}), "tool_choice.type"),
        (json!({"model": "m", "input": "x", "tools": [{"type": "custom"}]}), "tools[0].name"),
        (json!({"model": "m", "input": "x", "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "function"}]}]}), "tools[0].tools[0].name"),
        (json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}), "tools[0].name"),
        (json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}), "text.format.schema"),
    ] {
        let e = decode_request(&obj(body.clone())).unwrap_err();
        assert_eq!(e.field(), Some(field), "{body}");
    }
}

#[test]
fn non_stream_response_object() {
    let resp = ChatResponse {
        id: "resp_9".into(),
        text: "Here.".into(),
        reasoning: "thought".into(),
        tool_calls: vec![ToolCall { id: "call_1".into(), name: "shell".into(), arguments: "{}".into() }, ToolCall { id: String::new(), name: "x".into(), arguments: String::new() }],
        finish: FinishReason::ToolCalls,
        usage: Some(Usage { prompt_tokens: 100, completion_tokens: 20, estimated: false, ..Default::default() }),
    };
    let v = encode_response(&resp, "codex-model", 1700);
    assert_eq!(v["id"], "resp_9");
    assert_eq!(v["object"], "response");
    assert_eq!(v["created_at"], 1700);
    assert_eq!(v["model"], "codex-model");
    assert_eq!(v["status"], "completed");
    let o = v["output"].as_array().unwrap();
    assert_eq!(o[0], json!({"id": "rs_9_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}]}));
    assert_eq!(o[1]["content"][0], json!({"type": "output_text", "text": "Here.", "annotations": []}));
    assert_eq!(o[2], json!({"id": "fc_9_2", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "shell", "arguments": "{}"}));
    assert_eq!(o[3]["call_id"], "call_9_1");
    assert_eq!(o[3]["arguments"], "{}");
    assert_eq!(v["usage"], json!({"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}));

    let v = encode_response(&ChatResponse { finish: FinishReason::Length, usage: None, tool_calls: vec![], reasoning: String::new(), ..resp.clone() }, "m", 1);
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(v["output"][0]["status"], "incomplete");
    assert!(v.get("usage").is_none(), "no usage reported, none invented");
    let v = encode_response_styled(&resp, "m", 1, ReasoningStyle::Text);
    assert_eq!(v["output"][0]["content"], json!([{"type": "reasoning_text", "text": "thought"}]));
}

#[test]
fn stream_incomplete_raw_reasoning_and_failures() {
    let mut e = StreamEncoder::new("m", "resp_1", 1).with_reasoning_style(ReasoningStyle::Text);
    let mut out = Vec::new();
    e.chunk(&Chunk::Reasoning("r".into()), &mut out);
    e.chunk(&Chunk::Text("trunc".into()), &mut out);
    e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
    e.finish(&mut out);
    let ev = events(&out);
    assert_sequence_increasing(&ev);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[2..8],
        ["response.output_item.added", "response.content_part.added", "response.reasoning_text.delta", "response.reasoning_text.done", "response.content_part.done", "response.output_item.done"]
    );
    let (last, d) = ev.last().unwrap();
    assert_eq!(last, "response.incomplete");
    assert_eq!(d["response"]["status"], "incomplete");
    assert_eq!(d["response"]["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(d["response"]["output"][1]["status"], "incomplete");
    assert_eq!(d["response"]["usage"]["output_tokens"], 2, "no usage from the origin: estimated from 6 characters");

    let mut e = StreamEncoder::new("m", "resp_1", 1);
    let mut out = Vec::new();
    e.start(&mut out);
    e.chunk(&Chunk::Text("part".into()), &mut out);
    e.error("origin dropped the connection", &mut out);
    e.finish(&mut out);
    let ev = events(&out);
    assert_sequence_increasing(&ev);
    let (last, d) = ev.last().unwrap();
    assert_eq!(last, "response.failed");
    assert_eq!(d["response"]["status"], "failed");
    assert_eq!(d["response"]["error"]["message"], "origin dropped the connection");
    assert!(!ev.iter().any(|(n, _)| n == "response.completed"));

    // Arguments for a call already closed by later text: failed, not corrupted.
    let mut e = StreamEncoder::new("m", "resp_1", 1);
    let mut out = Vec::new();
    e.chunk(&Chunk::ToolCallStart { index: 0, id: "c".into(), name: "f".into() }, &mut out);
    e.chunk(&Chunk::Text("x".into()), &mut out);
    e.chunk(&Chunk::ToolCallArgs { index: 0, delta: "{}".into() }, &mut out);
    e.finish(&mut out);
    assert_eq!(events(&out).last().unwrap().0, "response.failed");

    // Empty stream: still a well-formed completed response.
    let mut e = StreamEncoder::new("m", "resp_1", 1);
    let mut out = Vec::new();
    e.finish(&mut out);
    let names: Vec<String> = events(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["response.created", "response.in_progress", "response.completed"]);
}

#[test]
fn stream_meta_and_completion_hook() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let kept: Rc<RefCell<Option<Value>>> = Rc::default();
    let k = kept.clone();
    let mut meta = Map::new();
    meta.insert("store".into(), json!(true));
    meta.insert("previous_response_id".into(), json!("resp_0"));
    let mut e = StreamEncoder::new("m", "resp_7", 1).with_meta(meta).on_done(Box::new(move |r: &Value| *k.borrow_mut() = Some(r.clone())));
    let mut out = Vec::new();
    e.chunk(&Chunk::Text("hi".into()), &mut out);
    assert!(kept.borrow().is_none());
    e.finish(&mut out);
    let ev = events(&out);
    assert_eq!(ev[0].1["response"]["store"], true);
    assert_eq!(ev[0].1["response"]["previous_response_id"], "resp_0");
    let done = &ev.last().unwrap().1["response"];
    assert_eq!(kept.borrow().as_ref(), Some(done), "the stored object is exactly what the client got");
    assert_eq!(done["output"][0]["id"], "msg_7_0");
    // A failed stream is not kept.
    let kept2: Rc<RefCell<bool>> = Rc::default();
    let k2 = kept2.clone();
    let mut e = StreamEncoder::new("m", "resp_8", 1).on_done(Box::new(move |_| *k2.borrow_mut() = true));
    e.chunk(&Chunk::Text("hi".into()), &mut out);
    e.error("cut", &mut out);
    assert!(!*kept2.borrow());
}

#[test]
fn no_panic_on_type_confusion() {
    for v in crate::dialect::test_support::type_confusions(&codex_request()) {
        if let Value::Object(m) = &v {
            match decode_request(m) {
                Err(e) => assert!(e.status() == 400 && e.field().is_some(), "{e}"),
                Ok(r) => {
                    let _ = openai::encode_request(&r, "x");
                    let _ = ollama::encode_chat_request(&r, "x");
                }
            }
        }
    }
}
