//! Private helpers shared by the dialect modules: typed field access whose errors name the
//! field path (`messages[2].content`), SSE / NDJSON writers, image data URLs, tool-argument
//! normalisation and deterministic id generation.

use super::ir::ImageData;
use crate::error::GatewayError;
use serde::Serialize;
use serde_json::{Map, Value};

pub(crate) type JsonMap = Map<String, Value>;

/// A JSON object plus its path from the body root, for error messages.
pub(crate) struct Obj<'a> {
    pub m: &'a JsonMap,
    pub path: String,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn bad(path: impl Into<String>, what: &str) -> GatewayError {
    let p = path.into();
    let msg = format!("`{p}` {what}");
    GatewayError::bad_field(p, msg)
}

impl<'a> Obj<'a> {
    pub fn root(m: &'a JsonMap) -> Self {
        Obj { m, path: String::new() }
    }

    /// `v` must be an object; `path` names it.
    pub fn of(v: &'a Value, path: String) -> Result<Self, GatewayError> {
        match v {
            Value::Object(m) => Ok(Obj { m, path }),
            _ => Err(bad(path, "must be an object")),
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Path of element `i` of array field `key`.
    pub fn item_path(&self, key: &str, i: usize) -> String {
        format!("{}[{i}]", join(&self.path, key))
    }

    /// The value, treating JSON `null` as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        match self.m.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn err(&self, key: &str, what: &str) -> GatewayError {
        bad(self.path_of(key), what)
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(key, "must be a string")),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<&'a str, GatewayError> {
        self.str(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "must be a boolean")),
        }
    }

    pub fn f64(&self, key: &str) -> Result<Option<f64>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| self.err(key, "must be a number")),
            Some(_) => Err(self.err(key, "must be a number")),
        }
    }

    /// A non-negative integer (an integral float such as `1024.0` is accepted).
    pub fn u64(&self, key: &str) -> Result<Option<u64>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    return Ok(Some(u));
                }
                match n.as_f64() {
                    Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(Some(f as u64)),
                    _ => Err(self.err(key, "must be a non-negative integer")),
                }
            }
            Some(_) => Err(self.err(key, "must be a non-negative integer")),
        }
    }

    pub fn i64(&self, key: &str) -> Result<Option<i64>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Some(i));
                }
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(Some(f as i64)),
                    _ => Err(self.err(key, "must be an integer")),
                }
            }
            Some(_) => Err(self.err(key, "must be an integer")),
        }
    }

    pub fn arr(&self, key: &str) -> Result<Option<&'a [Value]>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(self.err(key, "must be an array")),
        }
    }

    pub fn obj(&self, key: &str) -> Result<Option<Obj<'a>>, GatewayError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Obj { m, path: self.path_of(key) })),
            Some(_) => Err(self.err(key, "must be an object")),
        }
    }

    /// A string or an array of strings (OpenAI `stop`, embeddings `input`).
    pub fn str_or_strs(&self, key: &str) -> Result<Vec<String>, GatewayError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(bad(self.item_path(key, i), "must be a string")),
                })
                .collect(),
            Some(_) => Err(self.err(key, "must be a string or an array of strings")),
        }
    }
}

// ---- writers -------------------------------------------------------------------------------

/// Serialise into `out`. Writing JSON into a `Vec` cannot fail for our value types.
#[inline]
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// `event: <name>\ndata: <json>\n\n`
pub(crate) fn sse_event(out: &mut Vec<u8>, event: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    write_json(out, data);
    out.extend_from_slice(b"\n\n");
}

/// `data: <json>\n\n`
pub(crate) fn sse_data(out: &mut Vec<u8>, data: &Value) {
    out.extend_from_slice(b"data: ");
    write_json(out, data);
    out.extend_from_slice(b"\n\n");
}

/// `<json>\n`
pub(crate) fn ndjson(out: &mut Vec<u8>, data: &Value) {
    write_json(out, data);
    out.push(b'\n');
}

// ---- images --------------------------------------------------------------------------------

/// Split an image URL: `data:<type>;base64,<data>` becomes `Base64` with its media type;
/// anything else (http(s), or a non-base64 data URL) stays a `Url`.
pub(crate) fn parse_image_url(url: &str) -> (Option<String>, ImageData) {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some(pos) = rest.find(";base64,") {
            let mt = &rest[..pos];
            let data = &rest[pos + ";base64,".len()..];
            let mt = if mt.is_empty() { None } else { Some(mt.to_string()) };
            return (mt, ImageData::Base64(data.to_string()));
        }
    }
    (None, ImageData::Url(url.to_string()))
}

/// Media type from the first bytes of base64 image data; PNG when unrecognised (documented
/// guess: Ollama images carry no type and most clients send PNG screenshots).
pub(crate) fn sniff_media_type(b64: &str) -> &'static str {
    if b64.starts_with("/9j/") {
        "image/jpeg"
    } else if b64.starts_with("R0lGOD") {
        "image/gif"
    } else if b64.starts_with("UklGR") {
        "image/webp"
    } else {
        "image/png"
    }
}

pub(crate) fn data_url(media_type: Option<&str>, b64: &str) -> String {
    let mt = media_type.unwrap_or_else(|| sniff_media_type(b64));
    format!("data:{mt};base64,{b64}")
}

/// The URL form of an image for OpenAI-shaped clients and origins.
pub(crate) fn image_url(media_type: Option<&str>, data: &ImageData) -> String {
    match data {
        ImageData::Base64(b) => data_url(media_type, b),
        ImageData::Url(u) => u.clone(),
    }
}

// ---- tool arguments and ids ----------------------------------------------------------------

/// Tool-call arguments as a JSON object for dialects that carry objects (Ollama, Anthropic).
/// Empty text is `{}`; text that is not a JSON object is kept, not lost, under
/// `_raw_arguments` so the tool's schema validation reports it back to the model.
pub(crate) fn args_object(args: &str) -> Value {
    if args.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let mut m = Map::new();
            m.insert("_raw_arguments".into(), Value::String(args.to_string()));
            Value::Object(m)
        }
    }
}

/// Arguments text for OpenAI-shaped wires: empty becomes `{}` (templates parse it).
pub(crate) fn args_text(args: &str) -> &str {
    if args.trim().is_empty() {
        "{}"
    } else {
        args
    }
}

/// A deterministic tool-call id for calls the origin left without one: unique per answer
/// (`n`) and across answers (the caller's message/response id, minus its usual prefix).
pub(crate) fn call_id(owner: &str, n: usize) -> String {
    let tail = ["chatcmpl-", "msg_", "resp_", "call_"].iter().find_map(|p| owner.strip_prefix(p)).unwrap_or(owner);
    if tail.is_empty() {
        format!("call_{n}")
    } else {
        format!("call_{tail}_{n}")
    }
}

/// Message text from an error payload an origin sent (`{"error": "x"}` or
/// `{"error": {"message": "x", ...}}`).
pub(crate) fn error_message(err: &Value) -> String {
    match err {
        Value::String(s) => s.clone(),
        Value::Object(m) => match m.get("message") {
            Some(Value::String(s)) => s.clone(),
            _ => err.to_string(),
        },
        other => other.to_string(),
    }
}
