//! Fill-in-the-middle from Ollama's `/api/generate` (Continue's autocomplete: `prompt` +
//! `suffix`, often `raw`) to an OpenAI-compatible node's `/v1/completions`, the API that takes a
//! `suffix` and a prompt without a chat template. Chat completions cannot carry either, so
//! these requests take this leg instead of the chat one (`is_fim`). The answer comes back
//! through the OpenAI decoders (`choices[].text`) into Ollama's generate encoders.
//!
//! Refused (400, meaning would be lost): `template` (an Ollama Go template the origin cannot
//! run), `context` (Ollama token ids), `images`.

use super::super::wire::{JsonMap, Obj};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// A generate request that needs `/v1/completions` on an OpenAI-compatible node: it has a
/// non-empty `suffix`, or asks for a raw prompt.
pub fn is_fim(body: &JsonMap) -> bool {
    body.get("suffix").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) || body.get("raw").and_then(Value::as_bool) == Some(true)
}

/// The `/v1/completions` body for an `/api/generate` body.
pub fn completions_request(body: &JsonMap, real: &str, stream: bool) -> Result<Map<String, Value>, GatewayError> {
    let o = Obj::root(body);
    if !o.str("template")?.unwrap_or("").is_empty() {
        return Err(o.err("template", "custom templates cannot be applied by this model's origin (an OpenAI-compatible server)"));
    }
    if o.arr("context")?.is_some_and(|c| !c.is_empty()) {
        return Err(o.err("context", "Ollama context token ids cannot be sent to this model's origin"));
    }
    if o.arr("images")?.is_some_and(|c| !c.is_empty()) {
        return Err(o.err("images", "images cannot be sent with a fill-in-the-middle prompt"));
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(real));
    out.insert("prompt".into(), json!(o.str("prompt")?.unwrap_or("")));
    if let Some(s) = o.str("suffix")?.filter(|s| !s.is_empty()) {
        out.insert("suffix".into(), json!(s));
    }
    out.insert("stream".into(), json!(stream));
    if stream {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(opts) = o.obj("options")? {
        if let Some(n) = opts.i64("num_predict")? {
            if n > 0 {
                out.insert("max_tokens".into(), json!(n));
            }
        }
        for (from, to) in [("temperature", "temperature"), ("top_p", "top_p"), ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty")] {
            if let Some(v) = opts.f64(from)? {
                out.insert(to.into(), json!(v));
            }
        }
        if let Some(seed) = opts.i64("seed")? {
            out.insert("seed".into(), json!(seed));
        }
        let stop = opts.str_or_strs("stop")?;
        if !stop.is_empty() {
            out.insert("stop".into(), json!(stop));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::test_support::obj;

    #[test]
    fn continue_fim_to_completions() {
        let b = obj(json!({"model": "qwen2.5-coder", "prompt": "def f(", "suffix": ")\n", "raw": true, "stream": true,
            "options": {"num_predict": 64, "temperature": 0.2, "stop": ["\n\n", "<|endoftext|>"], "seed": 7}, "keep_alive": "5m"}));
        assert!(is_fim(&b));
        let c = completions_request(&b, "Qwen/Qwen2.5-Coder-7B", true).unwrap();
        assert_eq!(
            Value::Object(c),
            json!({"model": "Qwen/Qwen2.5-Coder-7B", "prompt": "def f(", "suffix": ")\n", "stream": true, "stream_options": {"include_usage": true},
                   "max_tokens": 64, "temperature": 0.2, "seed": 7, "stop": ["\n\n", "<|endoftext|>"]})
        );
        assert!(!is_fim(&obj(json!({"model": "m", "prompt": "p", "suffix": ""}))));
        assert!(is_fim(&obj(json!({"model": "m", "prompt": "p", "raw": true}))));
        for (body, field) in [
            (json!({"model": "m", "prompt": "p", "suffix": "s", "template": "{{ .Prompt }}"}), "template"),
            (json!({"model": "m", "prompt": "p", "suffix": "s", "context": [1, 2]}), "context"),
            (json!({"model": "m", "prompt": "p", "suffix": "s", "images": ["iVBOR"]}), "images"),
        ] {
            assert_eq!(completions_request(&obj(body), "x", false).unwrap_err().field(), Some(field));
        }
    }
}
