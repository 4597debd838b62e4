//! Property tests standing in for fuzzing (the machines have only a stable toolchain, and
//! cargo-fuzz needs nightly sanitizers). Every boundary that parses untrusted bytes is driven
//! with arbitrary input: it must never panic, and the stream transforms must always end with
//! exactly one terminator (success or error) and never hand the client a frame that is not JSON.
//!
//! `cargo test --test properties` runs a short smoke (the default 256 cases, in CI);
//! `PROPTEST_CASES=200000 cargo test --release --test properties` is the long run.

use maestro_edge::auth::{self, token};
use maestro_edge::net::Inbound;
use maestro_edge::routes;
use maestro_edge::stream::lines::LineFramer;
use maestro_edge::dialect::{anthropic::AnthropicSse, ollama::OllamaNdjson, openai::OpenAiSse};
use maestro_edge::stream::transform::{Framing, State, Transform};
use maestro_edge::dialect::Decoder;
use maestro_edge::stream::transcode::Transcode;
use maestro_edge::dialect::{anthropic, ollama, openai, responses};
use maestro_edge::util::jsonscan;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[a-z<>|｜{}\":,\\\\ ]{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["user", "assistant", "system", "tool", "text", "image", "image_url", "tool_use", "tool_result", "function", "message", "input_text", "function_call", "function_call_output"]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(vec!["model", "messages", "role", "content", "type", "text", "tools", "name", "input", "arguments", "function", "system", "stream", "tool_calls", "id", "source", "data", "max_tokens", "instructions", "images", "prompt", "choices", "delta", "usage", "done"]), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
    arb_json().prop_map(|v| match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("model".into(), json!("m"));
            m.insert("messages".into(), other);
            m
        }
    })
}

/// Arbitrary bytes split at arbitrary points.
fn arb_chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8)
}

/// Frames that look like what origins send, with garbage mixed in.
fn arb_frames() -> impl Strategy<Value = Vec<String>> {
    let frame = prop_oneof![
        arb_json().prop_map(|v| v.to_string()),
        Just("[DONE]".to_string()),
        Just(r#"{"model":"r","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#.to_string()),
        Just(r#"{"model":"r","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#.to_string()),
        Just(r#"{"model":"r","message":{"role":"assistant","content":"<think>a"},"done":false}"#.to_string()),
        Just(r#"{"model":"r","message":{"content":""},"done":true,"eval_count":2}"#.to_string()),
        Just(r#"{"error":{"message":"boom"}}"#.to_string()),
        "[ -~]{0,30}",
    ];
    prop::collection::vec(frame, 0..10)
}

/// JSON equality with floats compared to a relative 1e-12.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w))),
        _ => a == b,
    }
}

fn run_transform(t: &mut dyn Transform, frames: &[String]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    for f in frames {
        t.frame(f.as_bytes(), &mut out);
    }
    let ok = t.end(&mut out);
    (out, ok)
}

proptest! {
    #[test]
    fn framer_never_panics_and_ignores_chunking(chunks in arb_chunks()) {
        let whole: Vec<u8> = chunks.concat();
        let collect = |pieces: &[&[u8]]| {
            let mut f = LineFramer::new(1 << 20);
            let mut lines = Vec::new();
            for p in pieces {
                f.push(p, |l| lines.push(l.to_vec())).unwrap();
            }
            lines.extend(f.take_rest());
            lines
        };
        let split: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(collect(&split), collect(&[&whole]));
    }

    #[test]
    fn jsonscan_never_panics_and_rewrites_only_the_top_level_model(bytes in prop::collection::vec(any::<u8>(), 0..200), obj in arb_object(), name in "[a-z:/.\"\\\\-]{1,12}") {
        let _ = jsonscan::top_level_value(&bytes, "model");
        let _ = jsonscan::set_top_level_str(&bytes, "model", "x");
        let mut o = obj.clone();
        o.insert("model".into(), json!("real"));
        let src = serde_json::to_vec(&o).unwrap();
        let out = jsonscan::set_top_level_str(&src, "model", &name).unwrap_or(src.clone());
        let v: Value = serde_json::from_slice(&out).expect("still JSON");
        // Compare against the source as serde reads it back (its float parsing is not exact).
        let mut expected: Value = serde_json::from_slice(&src).unwrap();
        expected["model"] = json!(name);
        prop_assert_eq!(v, expected);
    }

    #[test]
    fn passthrough_streams_end_exactly_once_and_never_forward_garbage(frames in arb_frames()) {
        for mut t in [Box::new(OpenAiSse::new("d", true)) as Box<dyn Transform>, Box::new(OllamaNdjson::new("d"))] {
            let sse = t.framing() == Framing::SseData;
            let (out, ok) = run_transform(t.as_mut(), &frames);
            let text = String::from_utf8(out).unwrap();
            let payloads: Vec<&str> = if sse {
                text.split("\n\n").filter(|e| !e.is_empty()).map(|e| e.strip_prefix("data: ").expect("every event is a data line")).collect()
            } else {
                text.lines().collect()
            };
            // Terminators: SSE ends with [DONE] or an error event; NDJSON with done:true or an error line.
            let mut terminals = 0;
            for p in &payloads {
                if *p == "[DONE]" {
                    prop_assert!(sse, "[DONE] is SSE's terminator only");
                    terminals += 1;
                    continue;
                }
                let v: Value = serde_json::from_str(p).expect("only JSON reaches the client");
                let error = v.get("error").is_some_and(|e| !e.is_null());
                let done = !sse && v.get("done") == Some(&json!(true));
                if error || done { terminals += 1; }
            }
            prop_assert_eq!(terminals, 1, "exactly one terminator: {}", text);
            prop_assert_eq!(ok, *t.state() == State::Done);
        }
    }

    #[test]
    fn anthropic_passthrough_never_panics(lines in prop::collection::vec("[ -~]{0,40}", 0..12)) {
        let mut t = AnthropicSse::new("d");
        let mut out = Vec::new();
        for l in &lines {
            t.frame(l.as_bytes(), &mut out);
        }
        let ok = t.end(&mut out);
        let text = String::from_utf8(out).unwrap();
        prop_assert!(ok || text.contains("event: error"));
    }

    #[test]
    fn transcoding_never_panics_and_ends_once(frames in arb_frames(), origin in 0u8..3, client in 0u8..5) {
        let decoder = match origin {
            0 => Decoder::Ollama(ollama::StreamDecoder::new()),
            1 => Decoder::OpenAi(openai::StreamDecoder::new()),
            _ => Decoder::Anthropic(anthropic::StreamDecoder::new()),
        };
        let encoder: Box<dyn maestro_edge::dialect::StreamEncoder> = match client {
            0 => Box::new(openai::StreamEncoder::new("d", "id", 1, true)),
            1 => Box::new(ollama::ChatStreamEncoder::new("d")),
            2 => Box::new(ollama::GenerateStreamEncoder::new("d")),
            3 => Box::new(anthropic::StreamEncoder::new("d", "msg_1", 3)),
            _ => Box::new(responses::StreamEncoder::new("d", "resp_1", 1)),
        };
        let mut t = Transcode::new(decoder, Some(maestro_edge::repair::for_model("deepseek-kimi")), encoder);
        let (_, ok) = run_transform(&mut t, &frames);
        prop_assert_eq!(ok, *t.state() == State::Done);
    }

    #[test]
    fn dialect_decoders_never_panic(body in arb_object(), v in arb_json()) {
        let _ = openai::decode_request(&body);
        let _ = ollama::decode_chat_request(&body);
        let _ = ollama::decode_generate_request(&body);
        let _ = anthropic::decode_request(&body);
        if let Ok(ir) = anthropic::decode_request(&body).or_else(|_| openai::decode_request(&body)) {
            let _ = anthropic::encode_request(&ir, "r");
        }
        let _ = anthropic::decode_response(&v);
        let _ = anthropic::count_tokens(&body);
        let _ = responses::decode_request(&body);
        let _ = openai::decode_response(&v);
        let _ = ollama::decode_chat_response(&v);
        let _ = ollama::embed_request_to_openai(&body, "r");
        let _ = ollama::embed_response_from_openai(&v, "d");
    }

    #[test]
    fn tokens_and_credentials_never_panic_and_never_verify_without_the_key(t in "[A-Za-z0-9._=-]{0,300}", h in "[ -~]{0,80}") {
        prop_assert!(token::verify_user(&t, b"secret", 1000).is_err());
        prop_assert!(token::verify(&t, b"secret", token::ADMIN_TYP, 1000).is_err());
        let req = Inbound { headers: vec![("authorization".into(), h.clone()), ("x-api-key".into(), h)], ..Default::default() };
        let _ = auth::credential(&req);
    }

    #[test]
    fn the_route_table_never_panics(method in "[A-Z]{0,8}", path in "[ -~]{0,60}") {
        let _ = routes::resolve(&method, &path);
        let _ = routes::dialect_of(&path);
    }

    /// A same-dialect body keeps its bytes: whatever a policy removes, replaces or adds, the
    /// spliced bytes parse to exactly the edited body.
    #[test]
    fn splicing_a_body_yields_exactly_the_edited_body(body in arb_object(), edits in prop::collection::vec((0u8..3, prop::sample::select(vec!["model", "messages", "system", "tools", "stream", "new_key", "max_tokens"]), arb_json()), 0..5), pretty in any::<bool>()) {
        let raw = if pretty { serde_json::to_vec_pretty(&body).unwrap() } else { serde_json::to_vec(&body).unwrap() };
        // As in the gateway, `before` is the parse of the client's bytes.
        let before: Map<String, Value> = serde_json::from_slice(&raw).unwrap();
        let mut after = before.clone();
        for (op, key, v) in edits {
            match op {
                0 => { after.remove(key); }
                _ => { after.insert(key.to_string(), v); }
            }
        }
        let out = jsonscan::splice_object(&raw, &before, &after).expect("serde's own bytes always match");
        let parsed: Map<String, Value> = serde_json::from_slice(&out).unwrap();
        // serde_json parses some floats one ulp off their text (with or without splicing).
        prop_assert!(same_json(&Value::Object(parsed.clone()), &Value::Object(after.clone())), "{:?} vs {:?}", parsed, after);
        if after == before {
            prop_assert_eq!(out, raw);
        }
    }

    /// Edits inside an array (blocks inserted, removed, changed in place, as a system prompt
    /// scope or the foreign-thinking strip makes them) splice to exactly the edited body too.
    #[test]
    fn splicing_nested_edits_yields_exactly_the_edited_body(items in prop::collection::vec(arb_json(), 0..8), ops in prop::collection::vec((0u8..3, 0usize..16, arb_json()), 0..6), pretty in any::<bool>()) {
        let body = serde_json::json!({"model": "m", "messages": items, "system": [{"type": "text", "text": "a"}]});
        let raw = if pretty { serde_json::to_vec_pretty(&body).unwrap() } else { serde_json::to_vec(&body).unwrap() };
        let before: Map<String, Value> = serde_json::from_slice(&raw).unwrap();
        let mut after = before.clone();
        let arr = after.get_mut("messages").and_then(Value::as_array_mut).unwrap();
        for (op, i, v) in ops {
            match op {
                0 if !arr.is_empty() => { let k = i % arr.len(); arr.remove(k); }
                1 => { let k = i % (arr.len() + 1); arr.insert(k, v); }
                _ if !arr.is_empty() => {
                    let k = i % arr.len();
                    match arr[k].as_object_mut() {
                        Some(o) => { o.insert("x".into(), v); }
                        None => arr[k] = v,
                    }
                }
                _ => {}
            }
        }
        let out = jsonscan::splice_object(&raw, &before, &after).expect("serde's own bytes always match");
        let parsed: Map<String, Value> = serde_json::from_slice(&out).unwrap();
        prop_assert!(same_json(&Value::Object(parsed.clone()), &Value::Object(after.clone())), "{:?} vs {:?}", parsed, after);
    }

    /// An Anthropic passthrough stream reaches the client byte for byte (model spliced into
    /// message_start), however the origin's bytes are chunked.
    #[test]
    fn anthropic_passthrough_is_byte_identical(texts in prop::collection::vec("[ -~é\\n]{0,12}", 0..5), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6), ending in prop::sample::select(vec!["\n\n", "\n", "", "\r\n\r\n"]), crlf in any::<bool>()) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut origin = format!("event: message_start{nl}data: {}{nl}{nl}", json!({"type": "message_start", "message": {"id": "m", "model": "real", "usage": {"input_tokens": 3}}}));
        for t in &texts {
            origin.push_str(&format!("event: content_block_delta{nl}data: {}{nl}{nl}", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})));
        }
        origin.push_str(&format!("event: message_stop{nl}data: {{\"type\":\"message_stop\"}}{ending}"));
        let bytes = origin.as_bytes();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        at.sort();
        let mut t = AnthropicSse::new("shown");
        let mut out = Vec::new();
        let mut prev = 0;
        for c in at.into_iter().chain([bytes.len()]) {
            t.frame(&bytes[prev..c], &mut out);
            prev = c;
        }
        prop_assert!(t.end(&mut out));
        prop_assert_eq!(String::from_utf8(out).unwrap(), origin.replace("\"model\":\"real\"", "\"model\":\"shown\""));
    }
}
