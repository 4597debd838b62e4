//! Ollama: request decoding and encoding, answers and streams in both directions, embeddings, listings.
use super::super::ir::*;
use super::super::StreamEncoder as _;
use super::*;
use crate::dialect::openai;
use crate::types::{FinishReason, Usage};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::dialect::test_support::obj;

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ollama_chat() -> Value {
    json!({
        "model": "llava-display",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "look", "images": ["iVBORw0KGgoAAA", "data:image/webp;base64,UklGRxx"]},
            {"role": "assistant", "content": "", "thinking": "hmm",
             "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Paris"}}},
                            {"function": {"name": "time", "arguments": {}}}]},
            {"role": "tool", "tool_name": "time", "content": "12:00"},
            {"role": "tool", "tool_name": "weather", "content": "sunny"},
            {"role": "user", "content": "thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
        "think": "high",
        "format": {"type": "object"},
        "options": {"temperature": 0.1, "num_ctx": 8192, "num_predict": 256, "stop": ["x"], "top_k": 20},
        "keep_alive": -1
    })
}

#[test]
fn decodes_chat_with_images_tools_and_options() {
    let r = decode_chat_request(&obj(ollama_chat())).unwrap();
    assert!(r.stream, "Ollama streams by default");
    assert_eq!(r.system, vec!["sys"]);
    assert_eq!(r.messages[0].parts[1], Part::Image { media_type: None, data: ImageData::Base64("iVBORw0KGgoAAA".into()) });
    assert_eq!(r.messages[0].parts[2], Part::Image { media_type: Some("image/webp".into()), data: ImageData::Base64("UklGRxx".into()) });
    assert_eq!(r.messages[1].parts[0], Part::Thinking { text: "hmm".into(), signature: None });
    assert_eq!(r.messages[1].parts[1], Part::ToolCall { id: "call_0".into(), name: "weather".into(), arguments: "{\"city\":\"Paris\"}".into() });
    // Results matched by tool name, not by position.
    assert_eq!(r.messages[2].parts[0], Part::ToolResult { call_id: "call_1".into(), content: "12:00".into(), is_error: false });
    assert_eq!(r.messages[3].parts[0], Part::ToolResult { call_id: "call_0".into(), content: "sunny".into(), is_error: false });
    assert_eq!(r.reasoning, Some(Reasoning { enabled: true, effort: Some(Effort::High), budget_tokens: None }));
    assert_eq!(r.response_format.as_ref().unwrap()["json_schema"]["schema"], json!({"type": "object"}));
    assert_eq!(r.max_tokens, Some(256));
    assert_eq!(r.temperature, Some(0.1));
    assert_eq!(r.extra["options"], json!({"num_ctx": 8192, "top_k": 20}));
    assert_eq!(r.extra["keep_alive"], json!(-1));
    assert_eq!(r.extra["think"], json!("high"));
}

#[test]
fn openai_client_to_ollama_origin() {
    let r = openai::decode_request(&obj(json!({
        "model": "m", "stream": true, "user": "u",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
            {"role": "assistant", "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
            {"role": "tool", "tool_call_id": "c9", "content": "r"}
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "none",
        "reasoning_effort": "medium",
        "response_format": {"type": "json_object"},
        "max_tokens": 99
    })))
    .unwrap();
    let b = encode_chat_request(&r, "qwen3:32b").unwrap();
    assert!(b.get("user").is_none(), "OpenAI extras do not leak into Ollama");
    assert!(b.get("tools").is_none(), "tool_choice none: tools withheld");
    assert_eq!(b["think"], true, "levels are not portable to non-gpt-oss models");
    assert_eq!(b["format"], "json");
    assert_eq!(b["options"], json!({"num_predict": 99}));
    let m = b["messages"].as_array().unwrap();
    assert_eq!(m[0], json!({"role": "user", "content": "see", "images": ["iVBOR"]}));
    assert_eq!(m[1]["tool_calls"][0]["function"]["arguments"], json!({"_raw_arguments": "not json"}));
    assert_eq!(m[2]["tool_name"], "f");

    let mut r = r;
    r.messages.push(Message { role: Role::User, parts: vec![Part::Image { media_type: None, data: ImageData::Url("https://x/y.png".into()) }] });
    let e = encode_chat_request(&r, "m").unwrap_err();
    assert_eq!(e.status(), 400);
    r.reasoning = Some(Reasoning { enabled: false, effort: None, budget_tokens: None });
    r.messages.pop();
    assert_eq!(encode_chat_request(&r, "m").unwrap()["think"], false);
}

#[test]
fn generate_becomes_one_turn_chat() {
    let r = decode_generate_request(&obj(json!({
        "model": "m", "prompt": "why?", "system": "be short", "images": ["/9j/abc"], "stream": false,
        "options": {"num_predict": -1}, "suffix": ""
    })))
    .unwrap();
    assert!(!r.stream);
    assert_eq!(r.system, vec!["be short"]);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].parts[0], Part::Text("why?".into()));
    assert_eq!(r.max_tokens, None);
    assert_eq!(r.extra["options"], json!({"num_predict": -1}));
    let b = openai::encode_request(&r, "gpt");
    assert_eq!(b["messages"][1]["content"][1]["image_url"]["url"], "data:image/jpeg;base64,/9j/abc");
    for (body, field) in [
        (json!({"model": "m", "prompt": "x", "raw": true}), "raw"),
        (json!({"model": "m", "prompt": "x", "template": "{{ .Prompt }}"}), "template"),
        (json!({"model": "m", "prompt": "x", "context": [1, 2]}), "context"),
        (json!({"model": "m", "prompt": "x", "suffix": "}"}), "suffix"),
        (json!({"model": "m", "prompt": 5}), "prompt"),
        (json!({"model": "m", "images": [1]}), "images[0]"),
        (json!({"model": "m", "format": 3}), "format"),
        (json!({"model": "m", "think": 3}), "think"),
        (json!({"model": "m", "options": {"temperature": "x"}}), "options.temperature"),
    ] {
        assert_eq!(decode_generate_request(&obj(body)).unwrap_err().field(), Some(field));
    }
    assert_eq!(decode_chat_request(&obj(json!({"model": "m", "messages": [{"role": "bot"}]}))).unwrap_err().field(), Some("messages[0].role"));
    assert_eq!(
        decode_chat_request(&obj(json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]}))).unwrap_err().field(),
        Some("messages[0].tool_calls[0].function.name")
    );
}

#[test]
fn decodes_origin_answers() {
    let r = decode_chat_response(&json!({
        "model": "x", "message": {"role": "assistant", "content": "", "thinking": "t",
        "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
        "done": true, "done_reason": "stop", "prompt_eval_count": 7, "eval_count": 3
    }))
    .unwrap();
    assert_eq!(r.reasoning, "t");
    assert_eq!(r.tool_calls[0].arguments, "{\"a\":1}");
    assert_eq!(r.finish, FinishReason::ToolCalls);
    assert_eq!(r.usage, Some(Usage { prompt_tokens: 7, completion_tokens: 3, estimated: false, ..Default::default() }));
    let r = decode_chat_response(&json!({"response": "gen", "done": true, "done_reason": "length"})).unwrap();
    assert_eq!(r.text, "gen");
    assert_eq!(r.finish, FinishReason::Length);
    assert_eq!(r.usage, None);
    assert_eq!(decode_chat_response(&json!({"error": "model not found"})).unwrap_err(), "model not found");
}

#[test]
fn stream_decoder_handles_thinking_tools_and_done() {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for l in [
        r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"","thinking":"th"},"done":false}"#,
        r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"Hi"},"done":false}"#,
        "",
        r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_x","function":{"name":"a","arguments":{"p":1}}},{"function":{"name":"b","arguments":{}}}]},"done":false}"#,
        r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":10,"eval_count":4}"#,
    ] {
        d.frame(l.as_bytes(), &mut out).unwrap();
    }
    assert_eq!(
        out,
        vec![
            Chunk::Reasoning("th".into()),
            Chunk::Text("Hi".into()),
            Chunk::ToolCallStart { index: 0, id: "call_x".into(), name: "a".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"p\":1}".into() },
            Chunk::ToolCallStart { index: 1, id: "".into(), name: "b".into() },
            Chunk::ToolCallArgs { index: 1, delta: "{}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 10, completion_tokens: 4, estimated: false, ..Default::default() }),
        ]
    );
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    d.frame(br#"{"response":"g","thinking":"r","done":false}"#, &mut out).unwrap();
    d.frame(br#"{"response":"","done":true,"done_reason":"length"}"#, &mut out).unwrap();
    assert_eq!(out, vec![Chunk::Reasoning("r".into()), Chunk::Text("g".into()), Chunk::Finish(FinishReason::Length)]);
    assert_eq!(d.frame(br#"{"error":"out of memory"}"#, &mut out).unwrap_err(), "out of memory");
    assert!(d.frame(b"garbage", &mut out).is_err());
}

#[test]
fn encodes_client_answers() {
    let resp = ChatResponse {
        id: String::new(),
        text: "hi".into(),
        reasoning: "r".into(),
        tool_calls: vec![ToolCall { id: "c".into(), name: "f".into(), arguments: "{\"a\":1}".into() }],
        finish: FinishReason::ToolCalls,
        usage: Some(Usage { prompt_tokens: 1, completion_tokens: 2, estimated: false, ..Default::default() }),
    };
    let v = encode_chat_response(&resp, "disp", "2025-01-01T00:00:00Z");
    assert_eq!(v["model"], "disp");
    assert_eq!(v["message"]["tool_calls"][0], json!({"id": "c", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}}));
    assert_eq!(v["message"]["thinking"], "r");
    assert_eq!(v["done_reason"], "stop");
    assert_eq!(v["eval_count"], 2);
    let v = encode_generate_response(&ChatResponse { usage: None, finish: FinishReason::Length, ..resp }, "disp", "t");
    assert_eq!(v["response"], "hi");
    assert_eq!(v["done_reason"], "length");
    // Every metric Ollama sends is present, 0 when the origin reported nothing.
    for k in METRICS {
        assert!(v[k].is_u64(), "{k} in {v}");
    }
    assert_eq!(v["eval_count"], 0);
    assert!(v.get("context").is_none());
    let t = Timing::from_ms(40, 100);
    let v = encode_chat_response_timed(&ChatResponse::default(), "d", "t", &t);
    assert_eq!((v["total_duration"].as_u64(), v["prompt_eval_duration"].as_u64(), v["eval_duration"].as_u64()), (Some(100_000_000), Some(40_000_000), Some(60_000_000)));
    assert_eq!(v["load_duration"], 0);
    let z = Timing::from_ms(5, 5);
    assert!(z.eval_ns >= 1 && z.prompt_eval_ns >= 1 && z.total_ns >= z.eval_ns + z.prompt_eval_ns, "never a zero rate divisor");
}

const METRICS: [&str; 6] = ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"];

#[test]
fn stream_durations_count_the_time_before_the_encoder() {
    let e = ChatStreamEncoder::new("d").with_elapsed_ms(250);
    assert!(e.timing().total_ns >= 250_000_000, "time before the encoder existed counts");
}

#[test]
fn generate_stream_encoder_and_errors() {
    let mut e = GenerateStreamEncoder::new("disp");
    e.set_created_at("t");
    let mut out = Vec::new();
    e.chunk(&Chunk::Text("a".into()), &mut out);
    e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
    e.finish(&mut out);
    let l = lines(&out);
    assert_eq!(l[0], json!({"model": "disp", "created_at": "t", "response": "a", "done": false}));
    let mut last = l[1].as_object().unwrap().clone();
    for k in METRICS {
        assert!(last.remove(k).is_some_and(|v| v.is_u64()), "{k}");
    }
    assert_eq!(Value::Object(last), json!({"model": "disp", "created_at": "t", "response": "", "done": true, "done_reason": "length"}));

    let mut e = ChatStreamEncoder::new("disp");
    let mut out = Vec::new();
    e.chunk(&Chunk::Text("a".into()), &mut out);
    e.error("origin went away", &mut out);
    e.finish(&mut out);
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    assert_eq!(l[1], json!({"error": "origin went away"}));
    assert!(!String::from_utf8(out).unwrap().contains("\"done\":true"));
    assert!(now_rfc3339().ends_with('Z'));
}

#[test]
fn embeddings_both_ways() {
    let b = embed_request_to_openai(&obj(json!({"model": "e", "input": ["a", "b"], "truncate": true, "keep_alive": "5m"})), "real-e").unwrap();
    assert_eq!(b, json!({"model": "real-e", "input": ["a", "b"], "encoding_format": "float"}));
    let r = embed_response_from_openai(&json!({"data": [{"index": 1, "embedding": [0.5]}, {"index": 0, "embedding": [0.25]}], "usage": {"prompt_tokens": 4}}), "disp").unwrap();
    assert_eq!(r, json!({"model": "disp", "embeddings": [[0.25], [0.5]], "total_duration": 0, "load_duration": 0, "prompt_eval_count": 4}));
    let legacy = embeddings_response_from_openai(&json!({"data": [{"embedding": [0.5]}]})).unwrap();
    assert_eq!(legacy, json!({"embedding": [0.5]}));
    let b = embed_request_to_openai(&obj(json!({"model": "e", "prompt": "one"})), "r").unwrap();
    assert_eq!(b["input"], "one");

    let (b, b64) = openai_embeddings_to_embed_request(&obj(json!({"model": "e", "input": "hi", "encoding_format": "base64", "dimensions": 8})), "real").unwrap();
    assert!(b64);
    assert_eq!(b, json!({"model": "real", "input": "hi", "truncate": false, "dimensions": 8}));
    let r = embed_response_to_openai(&json!({"embeddings": [[1.0, 0.0]], "prompt_eval_count": 2}), "disp", true).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD.decode(r["data"][0]["embedding"].as_str().unwrap()).unwrap();
    assert_eq!(bytes, [1.0f32.to_le_bytes(), 0.0f32.to_le_bytes()].concat());
    assert_eq!(r["usage"]["prompt_tokens"], 2);
    let r = embed_response_to_openai(&json!({"embeddings": [[1.0]]}), "disp", false).unwrap();
    assert_eq!(r["data"][0]["embedding"], json!([1.0]));
    assert!(r.get("usage").is_none());
    assert_eq!(openai_embeddings_to_embed_request(&obj(json!({"model": "e", "input": [[1, 2]]})), "r").unwrap_err().field(), Some("input[0]"));
    assert!(embed_response_to_openai(&json!({"error": "x"}), "d", false).is_err());
}

#[test]
fn no_panic_on_type_confusion() {
    for v in crate::dialect::test_support::type_confusions(&ollama_chat()) {
        if let Value::Object(m) = &v {
            match decode_chat_request(m) {
                Err(e) => assert!(e.status() == 400 && e.field().is_some(), "{e}"),
                Ok(r) => {
                    let _ = encode_chat_request(&r, "x");
                    let _ = openai::encode_request(&r, "x");
                }
            }
        }
    }
    let gen = json!({"model": "m", "prompt": "p", "system": "s", "images": ["iVBOR"], "suffix": "", "raw": false,
        "template": "", "context": [], "options": {"num_predict": 5, "stop": ["a"]}, "format": "json", "think": true});
    for v in crate::dialect::test_support::type_confusions(&gen) {
        if let Value::Object(m) = &v {
            if let Err(e) = decode_generate_request(m) {
                assert!(e.status() == 400 && e.field().is_some(), "{e}");
            }
        }
    }
    let line = json!({"message": {"content": "x", "thinking": "t", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": {"a": 1}}}]},
        "done": true, "done_reason": "length", "prompt_eval_count": 1, "eval_count": 2, "response": "r"});
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for v in crate::dialect::test_support::type_confusions(&line) {
        let _ = decode_chat_response(&v);
        let _ = d.frame(v.to_string().as_bytes(), &mut out);
    }
    let emb = json!({"model": "m", "input": ["a"], "dimensions": 3, "encoding_format": "float"});
    for v in crate::dialect::test_support::type_confusions(&emb) {
        if let Value::Object(m) = &v {
            let _ = embed_request_to_openai(m, "r");
            let _ = openai_embeddings_to_embed_request(m, "r");
        }
    }
    for v in crate::dialect::test_support::type_confusions(&json!({"data": [{"index": 0, "embedding": [0.5]}], "usage": {"prompt_tokens": 1}, "embeddings": [[1.0]], "prompt_eval_count": 1})) {
        let _ = embed_response_from_openai(&v, "d");
        let _ = embed_response_to_openai(&v, "d", true);
    }
}

// ---- listings -----------------------------------------------------------------------------

mod listings {
    use super::*;
    use crate::routing::catalog::{Entry, EntryKind};
    use crate::state::snapshot::{Mapping, Node, NodeKind, NodeModel};

    #[test]
    fn digests_are_unique_stable_and_ollama_shaped() {
        let ollama = Node { id: 1, kind: NodeKind::Ollama, ..Default::default() };
        let openai = Node { id: 2, kind: NodeKind::Openai, ..Default::default() };
        let real = NodeModel { name: "llama3:latest".into(), digest: Some("abc123".into()), ..Default::default() };
        let bare = NodeModel { name: "llama3:latest".into(), ..Default::default() };
        let gpt = NodeModel { name: "gpt-4o".into(), ..Default::default() };
        let mini = NodeModel { name: "gpt-4o-mini".into(), ..Default::default() };
        let (m1, m2) =
            (Mapping { display: "fast".into(), real: "llama3:latest".into(), ..Default::default() }, Mapping { display: "quick".into(), real: "llama3:latest".into(), ..Default::default() });
        let entry = |name: &str, kind, backing| Entry { name: name.into(), kind, backing, context_length: 0, capabilities: vec![] };
        let es = [
            entry("llama3:latest", EntryKind::Real, Some((&ollama, &real))),
            entry("fast", EntryKind::Mapping(&m1), Some((&ollama, &real))),
            entry("quick", EntryKind::Mapping(&m2), Some((&ollama, &real))),
            entry("gpt-4o", EntryKind::Real, Some((&openai, &gpt))),
            entry("gpt-4o-mini", EntryKind::Real, Some((&openai, &mini))),
            entry("llama3:latest", EntryKind::Real, Some((&openai, &bare))),
        ];
        let ds: Vec<String> = es.iter().map(digest).collect();
        assert_eq!(ds[0], "abc123", "an Ollama node's own digest is kept for its real model");
        for d in &ds[1..] {
            assert!(d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()), "{d}");
        }
        let unique: std::collections::HashSet<&String> = ds.iter().collect();
        assert_eq!(unique.len(), ds.len(), "no two names share a digest, mappings of one model included");
        assert_eq!(ds, es.iter().map(digest).collect::<Vec<_>>(), "stable");
        assert_eq!(tag(&es[3])["digest"], ds[3]);
        // /api/ps rows: the node's digest for its real model, a derived one for a mapping,
        // and every key Ollama sends.
        let row = json!({"name": "llama3:latest", "model": "llama3:latest", "digest": "abc123", "size": 5, "details": {"family": "llama"}});
        assert_eq!(ps_entry(&row, &es[0])["digest"], "abc123");
        let mapped = ps_entry(&row, &es[1]);
        assert_eq!(mapped["digest"], ds[1]);
        assert_eq!(mapped["size"], 5);
        assert_eq!(mapped["details"]["family"], "llama");
        for k in ["size_vram", "expires_at", "context_length"] {
            assert!(mapped.get(k).is_some(), "{k}");
        }
        assert!(mapped["details"].get("quantization_level").is_some());
    }

    #[test]
    fn show_capabilities_for_models_whose_node_declares_none() {
        let openai = Node { id: 2, kind: NodeKind::Openai, ..Default::default() };
        let ollama = Node { id: 1, kind: NodeKind::Ollama, ..Default::default() };
        let chat = NodeModel { name: "gpt-4o-mini".into(), ..Default::default() };
        let emb = NodeModel { name: "text-embedding-3-small".into(), ..Default::default() };
        let local = NodeModel { name: "llama3:latest".into(), capabilities: vec!["completion".into()], ..Default::default() };
        let declared = Mapping { display: "g".into(), real: "gpt-4o-mini".into(), capabilities: vec!["completion".into()], ..Default::default() };
        let e = |name: &str, kind, backing| Entry { name: name.into(), kind, backing, context_length: 8192, capabilities: vec!["completion".into()] };
        assert_eq!(show_capabilities(&e("gpt-4o-mini", EntryKind::Real, Some((&openai, &chat)))), ["completion", "tools"]);
        assert_eq!(show_capabilities(&e("text-embedding-3-small", EntryKind::Real, Some((&openai, &emb)))), ["embedding"]);
        assert_eq!(show_capabilities(&e("llama3:latest", EntryKind::Real, Some((&ollama, &local)))), ["completion"], "an Ollama node's own word");
        assert_eq!(show_capabilities(&e("g", EntryKind::Mapping(&declared), Some((&openai, &chat)))), ["completion"], "a mapping's declaration");
        let v = show(&e("gpt-4o-mini", EntryKind::Real, Some((&openai, &chat))), None);
        assert_eq!(v["capabilities"], json!(["completion", "tools"]));
        assert_eq!(v["model_info"]["general.context_length"], 8192);
        assert_eq!(v["model_info"]["general.architecture"], "general", "Copilot looks the context length up by the architecture's name");
    }
}
