//! Stored Responses read back: `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`
//! and `DELETE /v1/responses/{id}`, always within the caller's own store (the store is keyed
//! by user, so another user's id is simply not found). Writing happens in `respond`.

use crate::error::GatewayError;
use crate::dialect::openai as oa;
use crate::net::{Inbound, Reply};
use crate::platform::Platform;
use crate::routes::Op;
use crate::state::response_store::{self as store, Lookup, StoredResponse, Turn};
use crate::state::snapshot::User;
use serde_json::{json, Value};
use std::rc::Rc;

async fn find<P: Platform>(p: &P, user: &User, id: &str) -> Result<Option<Rc<StoredResponse>>, GatewayError> {
    let l = Lookup { chain_from: None, ids: vec![id.to_string()] };
    let found = p.load_responses(user.id, &l).await.map_err(GatewayError::Dependency)?;
    Ok(found.into_iter().find(|r| r.id == id))
}

fn not_found(id: &str) -> Reply {
    Reply::json(404, &oa::invalid_request_body(&format!("Response with id '{id}' not found."), None, None))
}

pub(super) async fn handle<P: Platform>(p: &Rc<P>, user: &User, op: &Op, req: &Inbound) -> Result<Reply, GatewayError> {
    match op {
        Op::ResponseGet(id) => Ok(match find(&**p, user, id).await? {
            Some(r) => Reply::json(200, &r.response),
            None => not_found(id),
        }),
        Op::ResponseInputItems(id) => Ok(match find(&**p, user, id).await? {
            Some(r) => {
                let asc = req.query_param("order").as_deref() == Some("asc");
                let limit = req.query_param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
                Reply::json(200, &input_items(&r, asc, limit))
            }
            None => not_found(id),
        }),
        Op::ResponseDelete(id) => {
            if p.delete_response(user.id, id).await.map_err(GatewayError::Dependency)? {
                Ok(Reply::json(200, &json!({"id": id, "object": "response", "deleted": true})))
            } else {
                Ok(not_found(id))
            }
        }
        _ => Err(GatewayError::NotFound("no such operation".into())),
    }
}

/// OpenAI's list shape; `desc` (newest first) is its default order.
fn input_items(r: &StoredResponse, asc: bool, limit: usize) -> Value {
    let mut items: Vec<Value> = r
        .input
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let mut it = it.clone();
            if let Some(o) = it.as_object_mut() {
                // Input items the client sent without ids get stable ones, as OpenAI assigns them.
                if !o.contains_key("id") {
                    o.insert("id".into(), json!(format!("in_{}_{i}", r.id.trim_start_matches("resp_"))));
                }
                if !o.contains_key("type") && o.contains_key("role") {
                    o.insert("type".into(), json!("message"));
                }
            }
            it
        })
        .collect();
    if !asc {
        items.reverse();
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    json!({
        "object": "list",
        "data": items,
        "first_id": items.first().and_then(|i| i.get("id")).cloned(),
        "last_id": items.last().and_then(|i| i.get("id")).cloned(),
        "has_more": has_more,
    })
}

/// A reference another isolate may have written a moment ago (its batch is sent 50 ms after
/// the answer) is looked up once more after this long before it counts as unknown.
const RETRY_MS: u64 = 200;

/// Before a Responses request is decoded: load the records it refers to and expand its input
/// (see `state::response_store::expand`). The store is only asked when the request refers to
/// something; a self-contained request costs nothing here.
pub(super) async fn prepare<P: Platform>(p: &P, user: &User, body: &mut serde_json::Map<String, Value>) -> Result<Turn, GatewayError> {
    let l = store::lookup(body)?;
    if l.is_empty() {
        return store::expand(body, &[]);
    }
    let found = p.load_responses(user.id, &l).await.map_err(GatewayError::Dependency)?;
    match store::expand(body, &found) {
        // `expand` changes the body only when it succeeds, so it can simply run again.
        Err(_) => {
            p.sleep(RETRY_MS).await;
            let found = p.load_responses(user.id, &l).await.map_err(GatewayError::Dependency)?;
            store::expand(body, &found)
        }
        ok => ok,
    }
}

/// After the answer: keep the response object the client received, when the turn is stored.
pub(super) fn keep<P: Platform>(p: &P, user_id: Option<i64>, turn: &Turn, response: &Value) {
    let Some(user_id) = user_id else { return };
    if let Some(rec) = store::record(turn, response, p.now_ms()) {
        p.store_response(user_id, rec);
    } else if turn.store {
        crate::log::platform_log("a response was too large to store (see README, Responses state); later references to it will not resolve");
    }
}
