//! The sampling parameters (max tokens, temperature, top_p, stop, seed, penalties), read from
//! and written to every dialect in one place. A dialect names its keys (`Keys`); what differs
//! beyond names stays with the dialect and is said there: Anthropic requires `max_tokens` from
//! its clients and, towards its origins, caps `temperature`, sends `top_p` only alone and drops
//! blank stop sequences (`anthropic::encode_request`); Ollama's `num_predict` may be -1 or -2,
//! which have no IR form (`ollama::decode_chat_request`).

use super::ir::ChatRequest;
use super::wire::{bad, Obj};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// One dialect's names for the sampling parameters.
pub(crate) struct Keys {
    /// Max-token keys, the first present wins. Empty: the dialect reads its own.
    pub max_tokens: &'static [&'static str],
    /// Stop sequences, and whether they must be an array (else a string or an array).
    pub stop: Option<(&'static str, bool)>,
    /// `seed`, `frequency_penalty` and `presence_penalty` exist in the dialect.
    pub seed_and_penalties: bool,
}

/// OpenAI chat: `max_completion_tokens` (what reasoning models take) wins over `max_tokens`.
pub(crate) const OPENAI: Keys = Keys { max_tokens: &["max_completion_tokens", "max_tokens"], stop: Some(("stop", false)), seed_and_penalties: true };
/// Ollama's `options` (`num_predict` is read by the decoder: it may be negative).
pub(crate) const OLLAMA_OPTIONS: Keys = Keys { max_tokens: &[], stop: Some(("stop", false)), seed_and_penalties: true };
/// Anthropic Messages (`max_tokens` is required: read by the decoder).
pub(crate) const ANTHROPIC: Keys = Keys { max_tokens: &[], stop: Some(("stop_sequences", true)), seed_and_penalties: false };
/// OpenAI Responses.
pub(crate) const RESPONSES: Keys = Keys { max_tokens: &["max_output_tokens"], stop: None, seed_and_penalties: false };

/// Read the parameters `keys` names from `o` into `req` (each a 400 naming the field when mistyped).
pub(crate) fn decode(o: &Obj, keys: &Keys, req: &mut ChatRequest) -> Result<(), GatewayError> {
    for k in keys.max_tokens {
        if let Some(v) = o.u64(k)? {
            req.max_tokens = Some(v);
            break;
        }
    }
    req.temperature = o.f64("temperature")?;
    req.top_p = o.f64("top_p")?;
    match keys.stop {
        Some((k, false)) => req.stop = o.str_or_strs(k)?,
        Some((k, true)) => {
            if let Some(stops) = o.arr(k)? {
                for (i, s) in stops.iter().enumerate() {
                    req.stop.push(s.as_str().ok_or_else(|| bad(o.item_path(k, i), "must be a string"))?.to_string());
                }
            }
        }
        None => {}
    }
    if keys.seed_and_penalties {
        req.seed = o.i64("seed")?;
        req.frequency_penalty = o.f64("frequency_penalty")?;
        req.presence_penalty = o.f64("presence_penalty")?;
    }
    Ok(())
}

/// Write the parameters `req` sets into `out` under `keys`' names, max tokens under
/// `max_tokens_key` (OpenAI keeps the key its client used).
pub(crate) fn encode(req: &ChatRequest, keys: &Keys, max_tokens_key: &str, out: &mut Map<String, Value>) {
    if let Some(mt) = req.max_tokens {
        out.insert(max_tokens_key.into(), json!(mt));
    }
    if let Some(t) = req.temperature {
        out.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        out.insert("top_p".into(), json!(t));
    }
    if let Some((k, _)) = keys.stop.filter(|_| !req.stop.is_empty()) {
        out.insert(k.into(), json!(req.stop));
    }
    if keys.seed_and_penalties {
        if let Some(s) = req.seed {
            out.insert("seed".into(), json!(s));
        }
        if let Some(p) = req.frequency_penalty {
            out.insert("frequency_penalty".into(), json!(p));
        }
        if let Some(p) = req.presence_penalty {
            out.insert("presence_penalty".into(), json!(p));
        }
    }
}
