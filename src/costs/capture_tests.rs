//! Cached tokens are captured from every origin answer the gateway reads, streamed or whole, and
//! shown to clients in their own dialect's fields.

use crate::dialect::{anthropic, openai, responses, ChatResponse, Chunk};
use crate::types::Usage;
use serde_json::json;

fn cached(prompt: u64, completion: u64, cached: u64, written: u64) -> Usage {
    Usage { prompt_tokens: prompt, completion_tokens: completion, estimated: false, cached_tokens: cached, cache_write_tokens: written, reasoning_tokens: 0 }
}

#[test]
fn openai_answers_whole_and_streamed() {
    let u = json!({"usage": {"prompt_tokens": 1000, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 600}}});
    assert_eq!(openai::usage_from(&u["usage"]), Some(cached(1000, 20, 600, 0)));
    let whole = openai::decode_response(&json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}], "usage": u["usage"]})).unwrap();
    assert_eq!(whole.usage, Some(cached(1000, 20, 600, 0)));
    let mut d = openai::StreamDecoder::new();
    let mut out = Vec::new();
    d.frame(br#"{"choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":600}}}"#, &mut out).unwrap();
    assert!(out.contains(&Chunk::Usage(cached(1000, 20, 600, 0))), "{out:?}");
    // DeepSeek's name, and Responses-style details, and never more than the prompt.
    assert_eq!(Usage::openai_cached(&json!({"prompt_cache_hit_tokens": 30}), 100), 30);
    assert_eq!(Usage::openai_cached(&json!({"input_tokens_details": {"cached_tokens": 7}}), 100), 7);
    assert_eq!(Usage::openai_cached(&json!({"prompt_tokens_details": {"cached_tokens": 700}}), 100), 100);
    assert_eq!(Usage::openai_cached(&json!({"prompt_tokens_details": null}), 100), 0);
}

#[test]
fn anthropic_answers_whole_and_streamed() {
    let u = json!({"input_tokens": 300, "cache_read_input_tokens": 1200, "cache_creation_input_tokens": 500, "output_tokens": 9});
    assert_eq!(anthropic::usage_from(&u), Some(cached(2000, 9, 1200, 500)));
    let mut d = anthropic::StreamDecoder::new();
    let mut out = Vec::new();
    d.frame(br#"{"type":"message_start","message":{"usage":{"input_tokens":300,"cache_read_input_tokens":1200,"cache_creation_input_tokens":500,"output_tokens":1}}}"#, &mut out).unwrap();
    d.frame(br#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#, &mut out).unwrap();
    assert!(out.contains(&Chunk::Usage(cached(2000, 9, 1200, 500))), "the cache counts of message_start carry to the final usage: {out:?}");
}

#[test]
fn clients_see_the_cache_in_their_dialect() {
    let resp = ChatResponse { text: "x".into(), usage: Some(cached(2000, 9, 1200, 500)), ..Default::default() };
    assert_eq!(openai::encode_response(&resp, "m", 1)["usage"]["prompt_tokens_details"], json!({"cached_tokens": 1200}));
    assert_eq!(responses::encode_response(&resp, "m", 1)["usage"]["input_tokens_details"], json!({"cached_tokens": 1200}));
    assert_eq!(anthropic::encode_response(&resp, "m")["usage"], json!({"input_tokens": 300, "cache_read_input_tokens": 1200, "cache_creation_input_tokens": 500, "output_tokens": 9}));
    let plain = ChatResponse { text: "x".into(), usage: Some(cached(10, 2, 0, 0)), ..Default::default() };
    assert!(openai::encode_response(&plain, "m", 1)["usage"].get("prompt_tokens_details").is_none(), "nothing added without a cache");
}

#[test]
fn reasoning_tokens_reach_responses_and_chat_clients_whole_and_streamed() {
    // Codex reads `output_tokens_details.reasoning_tokens` from `response.completed` (issue 18).
    let u = json!({"prompt_tokens": 50, "completion_tokens": 40, "completion_tokens_details": {"reasoning_tokens": 25}});
    let want = Usage { reasoning_tokens: 25, ..cached(50, 40, 0, 0) };
    assert_eq!(openai::usage_from(&u), Some(want));
    let mut d = openai::StreamDecoder::new();
    let mut out = Vec::new();
    d.frame(format!(r#"{{"choices":[],"usage":{u}}}"#).as_bytes(), &mut out).unwrap();
    assert!(out.contains(&Chunk::Usage(want)), "{out:?}");
    let resp = ChatResponse { usage: Some(want), ..Default::default() };
    assert_eq!(responses::encode_response(&resp, "m", 1)["usage"]["output_tokens_details"], json!({"reasoning_tokens": 25}));
    assert_eq!(openai::encode_response(&resp, "m", 1)["usage"]["completion_tokens_details"], json!({"reasoning_tokens": 25}));
    // Two attempts of one recovered stream add up.
    assert_eq!(want.plus(want).reasoning_tokens, 50);
    // Origins that say nothing add no details.
    let plain = ChatResponse { usage: Some(cached(5, 5, 0, 0)), ..Default::default() };
    assert!(responses::encode_response(&plain, "m", 1)["usage"].get("output_tokens_details").is_none());
}
