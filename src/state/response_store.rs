//! Stored Responses (the OpenAI Responses API's `store`): what a stored response is, which
//! records a request needs (`previous_response_id`, `item_reference`), how its input is
//! expanded from them, the bounds a user's store keeps (retention, count, bytes, record size),
//! and the isolate's cache of recent writes. Pure logic: the Worker keeps the records in the
//! `ResponseStore` Durable Object, one per user (`edge/durable/response_store.rs`), so one user
//! can never address another's records.
//!
//! A record holds the turn's own input (references resolved, the chain before it not repeated)
//! and the response object exactly as the client received it; its output items are what
//! `item_reference` points at. `previous_response_id` rebuilds the conversation by walking the
//! chain: each earlier record's input then output, oldest first, then the new input. As in
//! OpenAI's API, `instructions` are not carried over from the previous response.

use crate::error::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// Records ride from an isolate to their users' ResponseStore objects in batches this long (one
/// call per user per batch, after the answer; see `edge::platform`).
pub const BATCH_MS: u64 = 50;
/// `previous_response_id` links followed at most (a longer chain is refused, not cut).
pub const MAX_CHAIN: usize = 1000;
/// Largest record kept whole (Durable Object values may be up to 2 MiB). A larger one keeps
/// its output (item references still resolve) but not its input (it cannot continue a chain).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Per user, the oldest records beyond these go first.
pub const MAX_USER_BYTES: u64 = 64 << 20;

/// A user's store: how long and how many (settings `responses.retention_days`,
/// `responses.max_per_user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bounds {
    pub retention_ms: u64,
    pub max_responses: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { retention_ms: 30 * 86_400_000, max_responses: 1000 }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub id: String,
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// This turn's input items, references resolved.
    pub input: Vec<Value>,
    /// False when the input was too large to keep (see `MAX_RECORD_BYTES`).
    #[serde(default = "yes")]
    pub input_complete: bool,
    /// The response object as the client received it (`GET /v1/responses/{id}`).
    pub response: Value,
    /// Its size as JSON when `record` made it (0 = not measured); not stored.
    #[serde(skip)]
    pub size: usize,
}

impl StoredResponse {
    pub fn output(&self) -> &[Value] {
        self.response.get("output").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn item(&self, id: &str) -> Option<&Value> {
        self.output().iter().find(|it| it.get("id").and_then(Value::as_str) == Some(id))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The response an output item belongs to. Item ids are minted by the gateway as
/// `{kind}_{tail}_{n}` for the response `resp_{tail}` (see `dialect::responses`), so an item
/// reference needs no index of its own.
pub fn response_of_item(item_id: &str) -> Option<String> {
    let (_, rest) = item_id.split_once('_')?;
    let (tail, n) = rest.rsplit_once('_')?;
    (!tail.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then(|| format!("resp_{tail}"))
}

/// The records a request needs: the chain behind `chain_from`, and the responses in `ids`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    #[serde(default)]
    pub chain_from: Option<String>,
    #[serde(default)]
    pub ids: Vec<String>,
}

impl Lookup {
    pub fn is_empty(&self) -> bool {
        self.chain_from.is_none() && self.ids.is_empty()
    }
}

fn input_items(body: &Map<String, Value>) -> &[Value] {
    body.get("input").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn reference_id(item: &Value) -> Option<&str> {
    (item.get("type").and_then(Value::as_str) == Some("item_reference")).then(|| item.get("id").and_then(Value::as_str).unwrap_or(""))
}

/// `store` as the client set it; OpenAI's default is true.
pub fn store_flag(body: &Map<String, Value>) -> Result<bool, GatewayError> {
    match body.get("store") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(GatewayError::bad_field("store", "`store` must be true or false")),
    }
}

fn previous_id(body: &Map<String, Value>) -> Result<Option<String>, GatewayError> {
    match body.get("previous_response_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(GatewayError::bad_field("previous_response_id", "`previous_response_id` must be a response id")),
    }
}

/// Which stored records this request needs (nothing for a self-contained request).
pub fn lookup(body: &Map<String, Value>) -> Result<Lookup, GatewayError> {
    let mut l = Lookup { chain_from: previous_id(body)?, ids: Vec::new() };
    for (i, it) in input_items(body).iter().enumerate() {
        if let Some(id) = reference_id(it) {
            if id.is_empty() {
                return Err(GatewayError::bad_field(format!("input[{i}].id"), format!("`input[{i}].id` is required")));
            }
            let resp = response_of_item(id).ok_or_else(|| not_found_item(i, id))?;
            if !l.ids.contains(&resp) {
                l.ids.push(resp);
            }
        }
    }
    Ok(l)
}

fn not_found_item(i: usize, id: &str) -> GatewayError {
    GatewayError::bad_field(format!("input[{i}].id"), format!("Item with id '{id}' not found: it was never stored for you, was deleted, or is past its retention"))
}

/// What the request said about state, kept for storing its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub store: bool,
    pub previous_response_id: Option<String>,
    /// The turn's own input items, references resolved (empty when `store` is false).
    pub input: Vec<Value>,
}

impl Turn {
    /// Top-level fields every response object of this turn carries.
    pub fn meta(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("store".into(), json!(self.store));
        m.insert("previous_response_id".into(), json!(self.previous_response_id));
        m
    }
}

/// Resolve the request against the records found: item references become the stored items,
/// `previous_response_id` becomes the conversation before this turn, so the body that goes on
/// to the decoder is self-contained. Unknown ids are a 400 naming the field. The body is only
/// changed when the expansion succeeds.
pub fn expand(body: &mut Map<String, Value>, found: &[Rc<StoredResponse>]) -> Result<Turn, GatewayError> {
    let store = store_flag(body)?;
    let previous = previous_id(body)?;
    let has_refs = input_items(body).iter().any(|it| reference_id(it).is_some());
    if !store && previous.is_none() && !has_refs {
        return Ok(Turn { store, previous_response_id: None, input: Vec::new() });
    }
    let by_id: HashMap<&str, &StoredResponse> = found.iter().map(|r| (r.id.as_str(), &**r)).collect();
    let own: Vec<Value> = match body.get("input") {
        Some(Value::String(s)) => vec![json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": s}]})],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                match reference_id(it) {
                    Some(id) => {
                        let item = response_of_item(id).and_then(|r| by_id.get(r.as_str()).and_then(|rec| rec.item(id))).ok_or_else(|| not_found_item(i, id))?;
                        out.push(item.clone());
                    }
                    None => out.push(it.clone()),
                }
            }
            out
        }
        None | Some(Value::Null) => return Err(GatewayError::bad_field("input", "`input` is required")),
        Some(_) => return Err(GatewayError::bad_field("input", "`input` must be a string or an array of items")),
    };
    let mut full: Vec<Value> = Vec::new();
    if let Some(prev) = &previous {
        let mut chain: Vec<&StoredResponse> = Vec::new();
        let mut cur = Some(prev.as_str());
        while let Some(id) = cur {
            if chain.len() >= MAX_CHAIN {
                return Err(GatewayError::bad_field("previous_response_id", format!("the conversation behind '{prev}' is longer than {MAX_CHAIN} responses; send it in `input` instead")));
            }
            let rec = by_id.get(id).ok_or_else(|| {
                let what = if id == prev { format!("Previous response with id '{prev}' not found") } else { format!("response '{id}', an earlier turn of the conversation behind '{prev}', is no longer stored") };
                GatewayError::bad_field("previous_response_id", format!("{what} (stored responses are per user and expire; send the conversation in `input` instead)"))
            })?;
            if !rec.input_complete {
                return Err(GatewayError::bad_field("previous_response_id", format!("the input of response '{id}' was too large to store; send the conversation in `input` instead")));
            }
            chain.push(rec);
            cur = rec.previous_response_id.as_deref();
        }
        for rec in chain.iter().rev() {
            full.extend(rec.input.iter().cloned());
            full.extend(rec.output().iter().cloned());
        }
    }
    if previous.is_some() || has_refs {
        full.extend(own.iter().cloned());
        body.insert("input".into(), Value::Array(full));
        body.remove("previous_response_id");
    }
    Ok(Turn { store, previous_response_id: previous, input: if store { own } else { Vec::new() } })
}

/// The record to keep for an answer (None when the turn is not stored, or when even its
/// output alone exceeds `MAX_RECORD_BYTES`).
pub fn record(turn: &Turn, response: &Value, created_ms: u64) -> Option<StoredResponse> {
    if !turn.store {
        return None;
    }
    let id = response.get("id").and_then(Value::as_str)?.to_string();
    let mut rec = StoredResponse { id, created_ms, previous_response_id: turn.previous_response_id.clone(), input: turn.input.clone(), input_complete: true, response: response.clone(), size: 0 };
    rec.size = rec.to_json().len();
    if rec.size > MAX_RECORD_BYTES {
        rec.input.clear();
        rec.input_complete = false;
        rec.size = rec.to_json().len();
        if rec.size > MAX_RECORD_BYTES {
            return None;
        }
    }
    Some(rec)
}

/// Walk a lookup through records at hand (the isolate's cache): what was found, and what is
/// left to ask the store for.
pub fn resolve_with(l: &Lookup, mut get: impl FnMut(&str) -> Option<Rc<StoredResponse>>) -> (Vec<Rc<StoredResponse>>, Lookup) {
    let mut found: Vec<Rc<StoredResponse>> = Vec::new();
    let mut rest = Lookup::default();
    for id in &l.ids {
        match get(id) {
            Some(r) => found.push(r),
            None => rest.ids.push(id.clone()),
        }
    }
    let mut cur = l.chain_from.clone();
    let mut steps = 0;
    while let Some(id) = cur.take() {
        steps += 1;
        if steps > MAX_CHAIN + 1 {
            break;
        }
        if let Some(r) = found.iter().find(|r| r.id == id).cloned().or_else(|| get(&id)) {
            cur = r.previous_response_id.clone();
            if !found.iter().any(|f| f.id == r.id) {
                found.push(r);
            }
        } else {
            rest.chain_from = Some(id);
        }
    }
    (found, rest)
}

// ------------------------------------------------------------------------------------------
// The isolate's cache of recent records
// ------------------------------------------------------------------------------------------

/// Records written by this isolate, kept for a while so a next turn that arrives before the
/// batched write reached the store still finds them. Bounded in entries, bytes and age.
#[derive(Default)]
pub struct RecentCache {
    map: HashMap<(i64, String), (Rc<StoredResponse>, u64, usize)>,
    order: VecDeque<(i64, String)>,
    bytes: usize,
}

pub const CACHE_MAX_ENTRIES: usize = 512;
pub const CACHE_MAX_BYTES: usize = 16 << 20;
pub const CACHE_TTL_MS: u64 = 10 * 60 * 1000;

impl RecentCache {
    pub fn insert(&mut self, user: i64, rec: Rc<StoredResponse>, bytes: usize, now_ms: u64) {
        let key = (user, rec.id.clone());
        if let Some((_, _, b)) = self.map.remove(&key) {
            self.bytes -= b;
            self.order.retain(|k| k != &key);
        }
        self.map.insert(key.clone(), (rec, now_ms, bytes));
        self.order.push_back(key);
        self.bytes += bytes;
        while self.map.len() > CACHE_MAX_ENTRIES || self.bytes > CACHE_MAX_BYTES {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(k) = self.order.pop_front() {
            if let Some((_, _, b)) = self.map.remove(&k) {
                self.bytes -= b;
            }
        }
    }

    pub fn get(&mut self, user: i64, id: &str, now_ms: u64) -> Option<Rc<StoredResponse>> {
        while let Some(k) = self.order.front() {
            match self.map.get(k) {
                Some((_, at, _)) if now_ms.saturating_sub(*at) < CACHE_TTL_MS => break,
                _ => self.pop_oldest(),
            }
        }
        self.map.get(&(user, id.to_string())).map(|(r, _, _)| r.clone())
    }

    pub fn remove(&mut self, user: i64, id: &str) {
        let key = (user, id.to_string());
        if let Some((_, _, b)) = self.map.remove(&key) {
            self.bytes -= b;
            self.order.retain(|k| k != &key);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

// ------------------------------------------------------------------------------------------
// The store's index (one per user, inside the Durable Object)
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub id: String,
    pub created_ms: u64,
    pub bytes: u64,
}

/// A user's records by age, so retention and the count/byte bounds evict oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub entries: Vec<IndexEntry>,
    /// The bounds last sent with a write (the alarm and reads apply them between writes).
    #[serde(default)]
    pub bounds: Bounds,
}

impl Index {
    pub fn contains(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e.id == id)
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.id != id);
        before != self.entries.len()
    }

    /// Add (or replace) records, then evict what is expired or over the bounds. Returns the
    /// ids to delete from storage (never one of the records just added unless it is itself
    /// expired or alone over the byte bound).
    pub fn add(&mut self, new: impl IntoIterator<Item = IndexEntry>, bounds: &Bounds, now_ms: u64) -> Vec<String> {
        self.bounds = *bounds;
        for e in new {
            self.remove(&e.id);
            self.entries.push(e);
        }
        self.entries.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then_with(|| a.id.cmp(&b.id)));
        self.prune(bounds, now_ms)
    }

    /// Evict expired records and the oldest beyond the count and byte bounds.
    pub fn prune(&mut self, bounds: &Bounds, now_ms: u64) -> Vec<String> {
        let mut gone = Vec::new();
        let mut total: u64 = self.entries.iter().map(|e| e.bytes).sum();
        let mut keep = VecDeque::from(std::mem::take(&mut self.entries));
        while let Some(e) = keep.front() {
            let expired = e.created_ms.saturating_add(bounds.retention_ms) <= now_ms;
            if expired || keep.len() > bounds.max_responses || total > MAX_USER_BYTES {
                let e = keep.pop_front().expect("front exists");
                total -= e.bytes;
                gone.push(e.id);
            } else {
                break;
            }
        }
        self.entries = keep.into();
        gone
    }

    /// When the oldest record expires (the store's next alarm).
    pub fn next_expiry(&self, bounds: &Bounds) -> Option<u64> {
        self.entries.first().map(|e| e.created_ms.saturating_add(bounds.retention_ms))
    }

    pub fn is_expired(&self, id: &str, bounds: &Bounds, now_ms: u64) -> bool {
        self.entries.iter().find(|e| e.id == id).is_none_or(|e| e.created_ms.saturating_add(bounds.retention_ms) <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn rec(id: &str, prev: Option<&str>, input: Value, output: Value) -> Rc<StoredResponse> {
        Rc::new(StoredResponse {
            id: id.into(),
            created_ms: 1,
            previous_response_id: prev.map(String::from),
            input: input.as_array().unwrap().clone(),
            input_complete: true,
            response: json!({"id": id, "object": "response", "output": output}),
            size: 0,
        })
    }

    fn msg(id: &str, text: &str) -> Value {
        json!({"id": id, "type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]})
    }

    #[test]
    fn item_ids_name_their_response() {
        assert_eq!(response_of_item("msg_18c2ab_1").as_deref(), Some("resp_18c2ab"));
        assert_eq!(response_of_item("fc_18c2ab_12").as_deref(), Some("resp_18c2ab"));
        assert_eq!(response_of_item("rs_a_b_0").as_deref(), Some("resp_a_b"));
        assert_eq!(response_of_item("msg_nonum_x"), None);
        assert_eq!(response_of_item("garbage"), None);
    }

    #[test]
    fn item_references_become_the_stored_items() {
        let mut body = obj(json!({"model": "m", "input": [
            {"role": "user", "content": "hi"},
            {"type": "item_reference", "id": "msg_a1_0"},
            {"type": "item_reference", "id": "fc_a1_1"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"}
        ]}));
        let l = lookup(&body).unwrap();
        assert_eq!(l, Lookup { chain_from: None, ids: vec!["resp_a1".into()] });
        let call = json!({"id": "fc_a1_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"});
        let found = vec![rec("resp_a1", None, json!([]), json!([msg("msg_a1_0", "Hello"), call.clone()]))];
        let turn = expand(&mut body, &found).unwrap();
        assert!(turn.store);
        let input = body["input"].as_array().unwrap();
        assert_eq!(input[1]["content"][0]["text"], "Hello");
        assert_eq!(input[2], call);
        assert_eq!(turn.input, *input, "the own input is stored resolved");
        // Unknown ids: a 400 naming the item.
        let mut bad = obj(json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_zz_0"}]}));
        let before = bad.clone();
        let e = expand(&mut bad, &found).unwrap_err();
        assert_eq!(bad, before, "a failed expansion leaves the body as it was (it may be retried)");
        assert_eq!((e.status(), e.field()), (400, Some("input[0].id")));
        assert!(e.message().contains("msg_zz_0"));
        let e = lookup(&obj(json!({"model": "m", "input": [{"type": "item_reference", "id": "nope"}]}))).unwrap_err();
        assert_eq!(e.field(), Some("input[0].id"));
    }

    #[test]
    fn previous_response_id_rebuilds_the_chain_oldest_first() {
        let r1 = rec("resp_1", None, json!([{"role": "user", "content": "one"}]), json!([msg("msg_1_0", "uno")]));
        let r2 = rec("resp_2", Some("resp_1"), json!([{"role": "user", "content": "two"}]), json!([msg("msg_2_0", "dos")]));
        let mut body = obj(json!({"model": "m", "previous_response_id": "resp_2", "input": "three", "instructions": "be brief"}));
        assert_eq!(lookup(&body).unwrap().chain_from.as_deref(), Some("resp_2"));
        let turn = expand(&mut body, &[r2.clone(), r1.clone()]).unwrap();
        let texts: Vec<String> = body["input"].as_array().unwrap().iter().map(|i| i["content"].as_str().map(String::from).unwrap_or_else(|| i["content"][0]["text"].as_str().unwrap().to_string())).collect();
        assert_eq!(texts, ["one", "uno", "two", "dos", "three"]);
        assert!(body.get("previous_response_id").is_none());
        assert_eq!(body["instructions"], "be brief", "instructions are the new turn's own");
        assert_eq!(turn.previous_response_id.as_deref(), Some("resp_2"));
        assert_eq!(turn.input.len(), 1, "the chain is not repeated in the new record");
        // A missing link: 400 on previous_response_id.
        let mut body = obj(json!({"model": "m", "previous_response_id": "resp_2", "input": "x"}));
        let e = expand(&mut body, &[r2.clone()]).unwrap_err();
        assert_eq!(e.field(), Some("previous_response_id"));
        assert!(e.message().contains("resp_1"), "{}", e.message());
        let mut body = obj(json!({"model": "m", "previous_response_id": "resp_9", "input": "x"}));
        assert!(expand(&mut body, &[]).unwrap_err().message().contains("Previous response with id 'resp_9' not found"));
        // A record whose input was too large cannot continue a chain.
        let mut big = (*r1).clone();
        big.input_complete = false;
        let mut body = obj(json!({"model": "m", "previous_response_id": "resp_1", "input": "x"}));
        assert!(expand(&mut body, &[Rc::new(big)]).unwrap_err().message().contains("too large"));
    }

    #[test]
    fn store_false_keeps_nothing_and_self_contained_bodies_are_untouched() {
        let mut body = obj(json!({"model": "m", "store": false, "input": "hi"}));
        let before = body.clone();
        let t = expand(&mut body, &[]).unwrap();
        assert_eq!(t, Turn { store: false, previous_response_id: None, input: vec![] });
        assert_eq!(body, before);
        assert!(record(&t, &json!({"id": "resp_1", "output": []}), 1).is_none());
        let mut body = obj(json!({"model": "m", "input": "hi"}));
        let t = expand(&mut body, &[]).unwrap();
        assert!(t.store, "OpenAI stores by default");
        assert_eq!(body["input"], "hi");
        let r = record(&t, &json!({"id": "resp_1", "output": [msg("msg_1_0", "x")]}), 5).unwrap();
        assert_eq!(r.input[0]["content"][0]["text"], "hi");
        assert_eq!(r.item("msg_1_0").unwrap()["content"][0]["text"], "x");
        assert_eq!(t.meta()["store"], true);
        assert!(store_flag(&obj(json!({"store": "yes"}))).is_err());
    }

    #[test]
    fn oversized_records_keep_their_output_only() {
        let t = Turn { store: true, previous_response_id: None, input: vec![json!({"role": "user", "content": "x".repeat(MAX_RECORD_BYTES)})] };
        let r = record(&t, &json!({"id": "resp_1", "output": [msg("msg_1_0", "ok")]}), 1).unwrap();
        assert!(!r.input_complete && r.input.is_empty());
        assert!(r.item("msg_1_0").is_some());
        let huge = json!({"id": "resp_2", "output": [msg("msg_2_0", &"y".repeat(MAX_RECORD_BYTES))]});
        assert!(record(&t, &huge, 1).is_none());
    }

    #[test]
    fn local_resolution_walks_as_far_as_it_can() {
        let r2 = rec("resp_2", Some("resp_1"), json!([]), json!([]));
        let r3 = rec("resp_3", Some("resp_2"), json!([]), json!([]));
        let local = [r2.clone(), r3.clone()];
        let get = |id: &str| local.iter().find(|r| r.id == id).cloned();
        let (found, rest) = resolve_with(&Lookup { chain_from: Some("resp_3".into()), ids: vec!["resp_2".into(), "resp_7".into()] }, get);
        assert_eq!(found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["resp_2", "resp_3"]);
        assert_eq!(rest, Lookup { chain_from: Some("resp_1".into()), ids: vec!["resp_7".into()] });
        let (_, rest) = resolve_with(&Lookup { chain_from: Some("resp_2".into()), ids: vec![] }, |_| None);
        assert_eq!(rest.chain_from.as_deref(), Some("resp_2"));
    }

    #[test]
    fn recent_cache_is_per_user_and_bounded() {
        let mut c = RecentCache::default();
        c.insert(1, rec("resp_1", None, json!([]), json!([])), 10, 0);
        assert!(c.get(1, "resp_1", 5).is_some());
        assert!(c.get(2, "resp_1", 5).is_none(), "another user never sees it");
        assert!(c.get(1, "resp_1", CACHE_TTL_MS + 1).is_none(), "expires");
        for i in 0..CACHE_MAX_ENTRIES + 5 {
            c.insert(1, rec(&format!("resp_{i}"), None, json!([]), json!([])), 10, 100);
        }
        assert_eq!(c.len(), CACHE_MAX_ENTRIES);
        assert!(c.get(1, "resp_0", 100).is_none() && c.get(1, &format!("resp_{}", CACHE_MAX_ENTRIES + 4), 100).is_some());
        c.insert(1, rec("resp_big", None, json!([]), json!([])), CACHE_MAX_BYTES, 100);
        assert_eq!(c.len(), 1);
        c.remove(1, "resp_big");
        assert!(c.is_empty());
    }

    #[test]
    fn index_evicts_oldest_past_retention_count_and_bytes() {
        let b = Bounds { retention_ms: 1000, max_responses: 3 };
        let mut ix = Index::default();
        let e = |id: &str, t: u64, bytes: u64| IndexEntry { id: id.into(), created_ms: t, bytes };
        assert!(ix.add([e("a", 100, 1), e("b", 200, 1)], &b, 300).is_empty());
        assert_eq!(ix.add([e("c", 300, 1), e("d", 400, 1)], &b, 400), ["a"]);
        assert_eq!(ix.next_expiry(&b), Some(1200));
        assert_eq!(ix.prune(&b, 1250), ["b"]);
        assert!(ix.is_expired("b", &b, 1250) && !ix.is_expired("c", &b, 1250));
        assert_eq!(ix.add([e("big", 500, MAX_USER_BYTES)], &b, 500), ["c", "d"]);
        assert!(ix.contains("big"));
        assert!(ix.remove("big") && !ix.remove("big"));
    }
}
