//! Same-dialect transforms: model rewriting, usage, terminators, and byte-identical Anthropic streams.
use super::anthropic::AnthropicSse;
use super::ollama::OllamaNdjson;
use super::openai::OpenAiSse;
use crate::stream::transform::{State, Transform};
use crate::types::Usage;
use serde_json::Value;

fn run(t: &mut dyn Transform, frames: &[&str]) -> (String, bool) {
    let mut out = Vec::new();
    for f in frames {
        t.frame(f.as_bytes(), &mut out);
    }
    let ok = t.end(&mut out);
    (String::from_utf8(out).unwrap(), ok)
}

#[test]
fn openai_rewrites_model_and_strips_injected_usage_chunk() {
    let mut t = OpenAiSse::new("my-model", true);
    let (out, ok) = run(
        &mut t,
        &[
            r#"{"id":"c1","object":"chat.completion.chunk","model":"real:7b","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            r#"{"id":"c1","model":"real:7b","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"id":"c1","model":"real:7b","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
            "[DONE]",
        ],
    );
    assert!(ok);
    assert!(!out.contains("real:7b"));
    assert_eq!(out.matches("\"model\":\"my-model\"").count(), 2, "{out}");
    assert!(!out.contains("total_tokens"), "usage chunk stripped: {out}");
    assert!(out.ends_with("data: [DONE]\n\n"));
    assert_eq!(t.usage(), Some(Usage { prompt_tokens: 5, completion_tokens: 2, estimated: false, ..Default::default() }));
}

#[test]
fn openai_keeps_usage_chunk_when_client_asked() {
    let mut t = OpenAiSse::new("m", false);
    let (out, _) = run(&mut t, &[r#"{"model":"r","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#, "[DONE]"]);
    assert!(out.contains("usage"));
}

#[test]
fn openai_cut_stream_ends_with_error_not_done() {
    let mut t = OpenAiSse::new("m", false);
    let (out, ok) = run(&mut t, &[r#"{"model":"r","choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}"#]);
    assert!(!ok);
    assert!(!out.contains("[DONE]"));
    assert!(out.contains("\"error\""));
    assert!(matches!(t.state(), State::Failed(_)));
}

#[test]
fn openai_finished_without_done_marker_is_complete() {
    let mut t = OpenAiSse::new("m", false);
    let (out, ok) = run(&mut t, &[r#"{"model":"r","choices":[{"delta":{},"finish_reason": "stop"}]}"#]);
    assert!(ok);
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn openai_error_frame_is_forwarded_and_final() {
    let mut t = OpenAiSse::new("m", false);
    let (out, ok) = run(&mut t, &[r#"{"error":{"message":"boom"}}"#, r#"{"model":"r","choices":[]}"#, "[DONE]"]);
    assert!(!ok);
    assert!(out.contains("boom"));
    assert!(!out.contains("[DONE]"));
}

#[test]
fn malformed_chunks_end_the_stream_with_an_error() {
    let mut t = OpenAiSse::new("m", false);
    let (out, ok) = run(&mut t, &[r#"{"model":"r","choices":[]}"#, "{not json", "[DONE]"]);
    assert!(!ok);
    assert!(out.contains("malformed") && !out.contains("not json") && !out.contains("[DONE]"), "{out}");
    let mut o = OllamaNdjson::new("m");
    let (out, ok) = run(&mut o, &[r#"{"model":"r","done":false}"#, "<html>", r#"{"model":"r","done":true}"#]);
    assert!(!ok);
    assert!(!out.contains("<html>") && !out.contains("\"done\":true"));
}

#[test]
fn ollama_rewrites_and_reads_final_counts() {
    let mut t = OllamaNdjson::new("fav");
    let (out, ok) = run(
        &mut t,
        &[
            r#"{"model":"llama3:latest","created_at":"t","message":{"role":"assistant","content":"model"},"done":false}"#,
            r#"{"model":"llama3:latest","created_at":"t","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":11,"eval_count":3}"#,
        ],
    );
    assert!(ok);
    assert!(!out.contains("llama3"));
    assert_eq!(out.lines().count(), 2);
    assert_eq!(t.usage(), Some(Usage { prompt_tokens: 11, completion_tokens: 3, estimated: false, ..Default::default() }));
}

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"m","type":"message","model":"claude-real-1","content":[],"usage":{"input_tokens":2,"cache_read_input_tokens":10,"output_tokens":1}}}"#,
    "\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    ": a comment\n\n",
    "event: content_block_start\r\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
    "\r\n\r\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"RXVh\/+=="}}"#,
    "\n\n",
    "event: brand_new_event\ndata: {\"type\":\"brand_new_event\",\"x\":\"\\u00e9\"}\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"hi \"model\":\"x\""}}"#,
    "\n\n",
    "event: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#,
    "\n\n",
    "event: message_stop\n",
    r#"data: {"type":"message_stop"}"#,
);

/// Feed `pieces` through the relay core (as the edge does) and return the client's bytes.
fn relay_pieces(pieces: &[&[u8]]) -> (Vec<u8>, Option<crate::stream::relay::Finished>) {
    use crate::stream::relay::RelayCore;
    let done = std::rc::Rc::new(std::cell::RefCell::new(None));
    let d2 = done.clone();
    let mut core = RelayCore::new(pieces[0].to_vec(), Box::new(AnthropicSse::new("claude-fast")), Box::new(move |f| *d2.borrow_mut() = Some(f)));
    let mut out = Vec::new();
    core.start(&mut out);
    for p in &pieces[1..] {
        core.push(p, &mut out);
    }
    core.upstream_ended(&mut out);
    let f = done.borrow().clone();
    (out, f)
}

#[test]
fn anthropic_passthrough_is_byte_identical_at_every_split() {
    for ending in ["\n\n", "\n", "", "\r\n\r\n"] {
        let origin = format!("{ANTHROPIC_STREAM}{ending}");
        let want = origin.replace(r#""model":"claude-real-1""#, r#""model":"claude-fast""#);
        let bytes = origin.as_bytes();
        for i in 0..=bytes.len() {
            let (out, f) = relay_pieces(&[&bytes[..i], &bytes[i..]]);
            assert_eq!(String::from_utf8_lossy(&out), want, "ending {ending:?}, split at {i}");
            let f = f.expect("settled");
            assert!(f.completed && f.error.is_none(), "split at {i}: {f:?}");
            assert_eq!(f.usage, Some(Usage { prompt_tokens: 12, completion_tokens: 5, estimated: false, cached_tokens: 10, cache_write_tokens: 0, reasoning_tokens: 0 }));
        }
        // One byte at a time.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(String::from_utf8_lossy(&relay_pieces(&singles).0), want);
    }
}

#[test]
fn anthropic_message_stop_is_closed_by_its_blank_line() {
    let mut t = AnthropicSse::new("m");
    let mut out = Vec::new();
    t.frame(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n", &mut out);
    assert_eq!(*t.state(), State::Open, "done only once the event is closed");
    t.frame(b"\n", &mut out);
    assert_eq!(*t.state(), State::Done);
    assert!(out.ends_with(b"{\"type\":\"message_stop\"}\n\n"));
    // A stall after message_stop closes the event instead of adding an error.
    let mut t = AnthropicSse::new("m");
    let mut out = Vec::new();
    t.frame(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n", &mut out);
    t.fail("the origin sent nothing for 5 ms", &mut out);
    assert_eq!(*t.state(), State::Done);
    assert!(out.ends_with(b"}\n\n") && !out.windows(5).any(|w| w == b"error"));
}

#[test]
fn anthropic_cut_mid_event_ends_with_an_error_event() {
    let mut t = AnthropicSse::new("m");
    let mut out = Vec::new();
    t.frame(b"event: content_block_delta\ndata: {\"type\":\"content_bl", &mut out);
    assert!(!t.end(&mut out));
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("event: content_block_delta\n\nevent: error\n"), "{s:?}");
    assert!(!s.contains("content_bl\""), "the half line never goes out: {s:?}");
    let mut t = AnthropicSse::new("m");
    let mut out = Vec::new();
    t.frame(b"event: x\ndata: {not json}\n\n", &mut out);
    assert!(matches!(t.state(), State::Failed(_)));
    assert!(!String::from_utf8(out).unwrap().contains("not json"));
}

#[test]
fn anthropic_origin_error_event_is_forwarded_and_final() {
    let mut t = AnthropicSse::new("m");
    let mut out = Vec::new();
    let ev = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    t.frame(&ev[..ev.len() - 1], &mut out);
    assert_eq!(*t.state(), State::Open, "failed once the event is closed");
    t.frame(b"\n", &mut out);
    assert_eq!(*t.state(), State::Failed("Overloaded".into()));
    assert_eq!(out, ev, "the client gets the whole error event");
}

#[test]
fn ollama_without_done_is_an_error() {
    let mut t = OllamaNdjson::new("fav");
    let (out, ok) = run(&mut t, &[r#"{"model":"x","message":{"content":"a"},"done":false}"#]);
    assert!(!ok);
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(last["error"].is_string());
}
