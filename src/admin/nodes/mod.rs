//! `/admin/nodes`: origins. The API key and every custom header value are write-only (sealed
//! at rest; responses say whether a key is set and which headers exist, never a value; see
//! `headers`).

pub mod headers;
pub mod ops;
pub mod pull;
pub mod rows;

use super::input::{as_int, Input};
use super::node_bedrock;
use super::kit::{created, no_content, not_found, ok, Ctx};
use headers as node_headers;
pub use rows::rows;
use crate::error::GatewayError;
use crate::maintenance::{discovery, health};
use crate::net::Reply;
use crate::origins::header_safe;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Map, Value};

const NODE_VIEW: &str = "
    SELECT n.id, n.name, n.code, n.node_type, n.base_url, n.api_key_ciphertext IS NOT NULL AS api_key_set,
           n.priority, n.weight, n.headers, n.health_url, n.warmup_enabled, n.is_active, n.health_status,
           n.consecutive_failures, n.consecutive_successes, n.last_health_check, n.last_error, n.latency_ms,
           n.discovery_error, n.discovered_at, n.created_at, n.updated_at,
           -- Bedrock fields (admin/node_bedrock.rs): secrets only as whether they are set.
           n.aws_region, n.aws_access_key_id, n.aws_secret_key_ciphertext IS NOT NULL AS aws_secret_access_key_set,
           n.aws_session_token_ciphertext IS NOT NULL AS aws_session_token_set,
           CASE WHEN n.node_type <> 'bedrock' THEN NULL WHEN n.api_key_ciphertext IS NOT NULL THEN 'api_key' ELSE 'sigv4' END AS bedrock_auth,
           (SELECT count(*) FROM node_models m WHERE m.node_id = n.id AND m.is_present) AS model_count,
           COALESCE((SELECT json_agg(json_build_object('model_name', m.model_name, 'is_available', m.is_available, 'is_present', m.is_present,
                      'is_loaded', m.is_loaded, 'context_length', m.context_length, 'capabilities', m.capabilities, 'size', m.size_bytes,
                      'family', m.family, 'last_seen', m.last_seen) ORDER BY m.model_name)
                     FROM node_models m WHERE m.node_id = n.id), '[]'::json) AS models
    FROM nodes n";

fn present(mut v: Value) -> Value {
    if let Some(h) = v.get("headers").cloned() {
        v["headers"] = node_headers::masked(&h);
    }
    v
}

fn valid_url(field: &str, u: &str) -> Result<(), GatewayError> {
    let ok = (u.starts_with("http://") || u.starts_with("https://")) && u.len() > 8 && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(()).ok_or_else(|| GatewayError::bad_field(field, format!("'{field}' must be an http(s) URL")))
}

fn headers_input(input: &Input) -> Result<Option<Map<String, Value>>, GatewayError> {
    node_headers::validate(input.raw("headers"))
}

fn node_type(input: &Input) -> Result<Option<String>, GatewayError> {
    match input.str("node_type")?.or(input.str("type")?) {
        None => Ok(None),
        Some(t) if matches!(t.as_str(), "ollama" | "openai" | "anthropic" | "bedrock") => Ok(Some(t)),
        Some(t) if t == "vllm" => Ok(Some("openai".into())),
        Some(_) => Err(GatewayError::bad_field("node_type", "'node_type' must be ollama, openai, anthropic or bedrock")),
    }
}

fn code(input: &Input) -> Result<Option<Option<String>>, GatewayError> {
    if !input.has("code") {
        return Ok(None);
    }
    match input.str("code")? {
        None => Ok(Some(None)),
        Some(c) if c.is_empty() => Ok(Some(None)),
        Some(c) if c.len() <= 30 && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') => Ok(Some(Some(c))),
        Some(_) => Err(GatewayError::bad_field("code", "'code' must be 1-30 characters of a-z, 0-9, '_' or '-'")),
    }
}

async fn get_node<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({NODE_VIEW} WHERE n.id = $1::bigint) x"), &[Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("node {id}")));
    }
    Ok(present(v))
}

fn parse_id(s: &str) -> Result<i64, GatewayError> {
    s.parse().map_err(|_| GatewayError::NotFound(format!("node '{s}' not found (ids are numbers)")))
}

fn conflict(e: GatewayError) -> GatewayError {
    match e {
        GatewayError::Conflict { message, .. } => {
            let field = if message.contains("code") { "code" } else { "name" };
            GatewayError::Conflict { message: format!("a node with this {field} already exists"), field: Some(field.into()) }
        }
        other => other,
    }
}

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/nodes"),
    ("POST", "/admin/nodes"),
    ("PATCH", "/admin/nodes/batch/priority"),
    ("PUT", "/admin/nodes/batch/priority"),
    ("POST", "/admin/nodes/sync-all"),
    ("POST", "/admin/nodes/discover"),
    ("POST", "/admin/nodes/health-check"),
    ("GET", "/admin/nodes/models/distribution"),
    ("GET", "/admin/nodes/{id}"),
    ("PATCH", "/admin/nodes/{id}"),
    ("PUT", "/admin/nodes/{id}"),
    ("DELETE", "/admin/nodes/{id}"),
    ("PATCH", "/admin/nodes/{id}/toggle"),
    ("POST", "/admin/nodes/{id}/toggle"),
    ("POST", "/admin/nodes/{id}/discover"),
    ("POST", "/admin/nodes/{id}/sync-models"),
    ("POST", "/admin/nodes/{id}/health-check"),
    ("PATCH", "/admin/nodes/{id}/models/{model}/available"),
    ("PUT", "/admin/nodes/{id}/models/{model}/available"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    if let Some(answer) = ops::route(ctx, method, segs).await {
        return Some(answer);
    }
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("PATCH", ["batch", "priority"]) | ("PUT", ["batch", "priority"]) => batch_priority(ctx).await,
        ("POST", ["sync-all"]) | ("POST", ["discover"]) => discover_all(ctx).await,
        ("POST", ["health-check"]) => health_all(ctx).await,
        ("GET", ["models", "distribution"]) => distribution(ctx).await,
        ("GET", [id]) => match parse_id(id) {
            Ok(id) => get_node(ctx, id).await.and_then(ok),
            Err(e) => Err(e),
        },
        ("PATCH", [id]) | ("PUT", [id]) => update(ctx, id).await,
        ("DELETE", [id]) => delete(ctx, id).await,
        ("PATCH", [id, "toggle"]) | ("POST", [id, "toggle"]) => toggle(ctx, id).await,
        ("POST", [id, "discover"]) | ("POST", [id, "sync-models"]) => discover_one(ctx, id).await,
        ("POST", [id, "health-check"]) => health_one(ctx, id).await,
        ("PATCH", [id, "models", model, "available"]) | ("PUT", [id, "models", model, "available"]) => availability(ctx, id, model).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let active_only = super::query::flag(ctx.req, "active_only")?;
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.priority, x.id), '[]'::json)::text FROM ({NODE_VIEW} WHERE NOT $1::boolean OR n.is_active) x"), &[Param::Bool(Some(active_only))]).await?;
    let nodes: Vec<Value> = v.as_array().cloned().unwrap_or_default().into_iter().map(present).collect();
    ok(json!({"nodes": nodes, "total": nodes.len()}))
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let name = input.req_str("name")?;
    let kind = node_type(&input)?.unwrap_or_else(|| "ollama".into());
    let bedrock = kind == "bedrock";
    // A bedrock node's URL is derived from its region unless one is given (proxy, test fake).
    let base_url = if bedrock { input.str("base_url")?.unwrap_or_default() } else { input.req_str("base_url")? };
    if !base_url.is_empty() {
        valid_url("base_url", &base_url)?;
    }
    let api_key = input.str("api_key")?.filter(|k| !k.is_empty());
    if api_key.as_deref().is_some_and(|k| !header_safe(k)) {
        return Err(GatewayError::bad_field("api_key", "'api_key' must be a single line"));
    }
    let aws = node_bedrock::parse(&input, &|v| ctx.env.seal(v))?;
    if bedrock {
        let set = |c: &node_bedrock::Change| matches!(c, Some(Some(_)));
        node_bedrock::require_complete(&node_bedrock::Resulting { region: set(&aws.region), api_key: api_key.is_some(), access_key_id: set(&aws.access_key_id), secret: set(&aws.secret) })?;
    }
    let headers = headers_input(&input)?.unwrap_or_default();
    let sealed_headers = node_headers::seal_all(&headers, &Map::new(), true, &|v| ctx.env.seal(v))?;
    let health_url = input.str("health_url")?.filter(|u| !u.is_empty());
    if let Some(u) = &health_url {
        valid_url("health_url", u)?;
    }
    let code = code(&input)?.flatten();
    let id = ctx
        .json(
            "INSERT INTO nodes (name, code, node_type, base_url, api_key_ciphertext, priority, weight, headers, headers_sealed, health_url, warmup_enabled, is_active,
                                aws_region, aws_access_key_id, aws_secret_key_ciphertext, aws_session_token_ciphertext)
             VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, COALESCE($6::bigint, 100), COALESCE($7::bigint, 100), $8::jsonb, true, $9::text, COALESCE($10::boolean, false), COALESCE($11::boolean, true),
                     $12::text, $13::text, $14::text, $15::text)
             RETURNING to_json(id)",
            &[
                Param::Text(Some(name.clone())),
                Param::Text(code.clone()),
                Param::Text(Some(kind.clone())),
                Param::Text(Some(base_url.clone())),
                Param::Text(api_key.as_deref().map(|k| ctx.env.seal(k))),
                Param::Int(input.int_in("priority", -1_000_000, 1_000_000)?),
                Param::Int(input.int_in("weight", 0, 1_000_000)?),
                Param::Json(Some(Value::Object(sealed_headers))),
                Param::Text(health_url),
                Param::Bool(input.bool("warmup_enabled")?),
                Param::Bool(input.bool("is_active")?),
                Param::Text(aws.region.clone().flatten()),
                Param::Text(aws.access_key_id.clone().flatten()),
                Param::Text(aws.secret.clone().flatten()),
                Param::Text(aws.session_token.clone().flatten()),
            ],
        )
        .await
        .map_err(conflict)?
        .as_i64()
        .unwrap_or_default();
    let mut details = json!({"name": name, "node_type": kind, "base_url": base_url, "code": code, "api_key_set": api_key.is_some(), "headers": node_headers::masked(&Value::Object(headers))});
    if bedrock {
        details["bedrock"] = node_bedrock::audit(&aws);
    }
    ctx.audit("node.create", "node", Some(&id.to_string()), &details).await?;
    created(get_node(ctx, id).await?)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    get_node(ctx, id).await?;
    let input = ctx.input()?;
    // What the node is now, to check what it becomes (a bedrock node must stay usable).
    let cur = ctx
        .json(
            "SELECT json_build_object('node_type', node_type, 'region', aws_region IS NOT NULL, 'api_key', api_key_ciphertext IS NOT NULL,
                    'access_key_id', aws_access_key_id IS NOT NULL, 'secret', aws_secret_key_ciphertext IS NOT NULL) FROM nodes WHERE id = $1::bigint",
            &[Param::Int(Some(id))],
        )
        .await?;
    let kind = node_type(&input)?;
    let bedrock = kind.as_deref().or(cur["node_type"].as_str()) == Some("bedrock");
    let base_url = input.str("base_url")?;
    if let Some(u) = base_url.as_ref().filter(|u| !(bedrock && u.is_empty())) {
        valid_url("base_url", u)?;
    }
    let aws = node_bedrock::parse(&input, &|v| ctx.env.seal(v))?;
    let headers = match headers_input(&input)? {
        Some(wanted) => {
            let stored = ctx.json("SELECT json_build_array(headers, headers_sealed)::text FROM nodes WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
            let current = stored[0].as_object().cloned().unwrap_or_default();
            Some(node_headers::seal_all(&wanted, &current, stored[1].as_bool().unwrap_or(false), &|v| ctx.env.seal(v))?)
        }
        None => None,
    };
    // api_key: absent = keep, null or "" = clear, string = replace.
    let (set_key, key) = match input.raw("api_key") {
        None => (false, None),
        Some(Value::Null) => (true, None),
        Some(Value::String(s)) if s.trim().is_empty() => (true, None),
        Some(Value::String(s)) if header_safe(s) => (true, Some(ctx.env.seal(s.trim()))),
        Some(_) => return Err(GatewayError::bad_field("api_key", "'api_key' must be a single-line string or null")),
    };
    if bedrock {
        let now = |c: &node_bedrock::Change, was: &str| c.as_ref().map_or(cur[was].as_bool().unwrap_or(false), Option::is_some);
        let api_key_after = if set_key { key.is_some() } else { cur["api_key"].as_bool().unwrap_or(false) };
        node_bedrock::require_complete(&node_bedrock::Resulting {
            region: now(&aws.region, "region"),
            api_key: api_key_after,
            access_key_id: now(&aws.access_key_id, "access_key_id"),
            secret: now(&aws.secret, "secret"),
        })?;
    }
    let health_url = input.str("health_url")?;
    if let Some(u) = health_url.as_ref().filter(|u| !u.is_empty()) {
        valid_url("health_url", u)?;
    }
    let code = code(&input)?;
    ctx.exec(
        "UPDATE nodes SET
           name = COALESCE($2::text, name),
           node_type = COALESCE($3::text, node_type),
           base_url = COALESCE($4::text, base_url),
           api_key_ciphertext = CASE WHEN $5::boolean THEN $6::text ELSE api_key_ciphertext END,
           priority = COALESCE($7::bigint, priority),
           weight = COALESCE($8::bigint, weight),
           headers = COALESCE($9::jsonb, headers),
           headers_sealed = headers_sealed OR $9::jsonb IS NOT NULL,
           health_url = CASE WHEN $10::boolean THEN NULLIF($11::text, '') ELSE health_url END,
           warmup_enabled = COALESCE($12::boolean, warmup_enabled),
           is_active = COALESCE($13::boolean, is_active),
           code = CASE WHEN $14::boolean THEN $15::text ELSE code END,
           aws_region = CASE WHEN $16::boolean THEN $17::text ELSE aws_region END,
           aws_access_key_id = CASE WHEN $18::boolean THEN $19::text ELSE aws_access_key_id END,
           aws_secret_key_ciphertext = CASE WHEN $20::boolean THEN $21::text ELSE aws_secret_key_ciphertext END,
           aws_session_token_ciphertext = CASE WHEN $22::boolean THEN $23::text ELSE aws_session_token_ciphertext END,
           updated_at = now()
         WHERE id = $1::bigint",
        &[
            Param::Int(Some(id)),
            Param::Text(input.str("name")?.filter(|s| !s.is_empty())),
            Param::Text(kind),
            Param::Text(base_url),
            Param::Bool(Some(set_key)),
            Param::Text(key),
            Param::Int(input.int_in("priority", -1_000_000, 1_000_000)?),
            Param::Int(input.int_in("weight", 0, 1_000_000)?),
            Param::Json(headers.map(Value::Object)),
            Param::Bool(Some(input.has("health_url"))),
            Param::Text(health_url),
            Param::Bool(input.bool("warmup_enabled")?),
            Param::Bool(input.bool("is_active")?),
            Param::Bool(Some(code.is_some())),
            Param::Text(code.flatten()),
            Param::Bool(Some(aws.region.is_some())),
            Param::Text(aws.region.clone().flatten()),
            Param::Bool(Some(aws.access_key_id.is_some())),
            Param::Text(aws.access_key_id.clone().flatten()),
            Param::Bool(Some(aws.secret.is_some())),
            Param::Text(aws.secret.clone().flatten()),
            Param::Bool(Some(aws.session_token.is_some())),
            Param::Text(aws.session_token.clone().flatten()),
        ],
    )
    .await
    .map_err(conflict)?;
    let mut details = input.0.clone();
    if let Some(h) = details.get("headers").filter(|h| h.is_object()) {
        let shown = node_headers::masked(h);
        details.insert("headers".into(), shown);
    }
    // Secrets never reach the audit log: only whether they were set.
    for (field, flag) in [("aws_secret_access_key", "aws_secret_access_key_set"), ("aws_session_token", "aws_session_token_set")] {
        if let Some(v) = details.remove(field) {
            details.insert(flag.into(), json!(v.as_str().is_some_and(|s| !s.trim().is_empty())));
        }
    }
    if details.contains_key("api_key") {
        details.insert("api_key_set".into(), json!(set_key && details.get("api_key").is_some_and(|k| k.as_str().is_some_and(|s| !s.is_empty()))));
    }
    ctx.audit("node.update", "node", Some(&id.to_string()), &Value::Object(details)).await?;
    get_node(ctx, id).await.and_then(ok)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let node = get_node(ctx, id).await?;
    ctx.exec("DELETE FROM nodes WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
    ctx.audit("node.delete", "node", Some(&id.to_string()), &json!({"name": node["name"]})).await?;
    no_content()
}

async fn toggle<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    get_node(ctx, id).await?;
    ctx.exec("UPDATE nodes SET is_active = NOT is_active, updated_at = now() WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
    let v = get_node(ctx, id).await?;
    // Either way round, the node starts with a clean slate: no breaker or Retry-After left over.
    ctx.platform.clear_breakers(id).await;
    ctx.audit("node.toggle", "node", Some(&id.to_string()), &json!({"is_active": v["is_active"]})).await?;
    ok(v)
}

async fn batch_priority<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let Some(Value::Array(items)) = input.raw("priorities") else {
        return Err(GatewayError::bad_field("priorities", "'priorities' must be a list of {node_id, priority}"));
    };
    let mut pairs = Vec::new();
    for it in items {
        let id = it.get("node_id").or_else(|| it.get("id")).and_then(as_int);
        let pr = it.get("priority").and_then(as_int);
        match (id, pr) {
            (Some(id), Some(pr)) => pairs.push(json!([id, pr])),
            _ => return Err(GatewayError::bad_field("priorities", "each entry needs an integer node_id and priority")),
        }
    }
    let updated = ctx
        .exec(
            "UPDATE nodes n SET priority = (p->>1)::int, updated_at = now() FROM jsonb_array_elements($1::jsonb) p WHERE n.id = (p->>0)::bigint",
            &[Param::Json(Some(Value::Array(pairs.clone())))],
        )
        .await?;
    if updated as usize != pairs.len() {
        return Err(GatewayError::NotFound("one or more node ids do not exist".into()));
    }
    ctx.audit("node.batch_priority", "node", None, &json!({"priorities": pairs})).await?;
    list(ctx).await
}

/// The discovery routes (they run outside the admin transaction, see `admin::handle`).
pub fn discovers(method: &str, segs: &[&str]) -> bool {
    method == "POST" && matches!(segs, ["nodes", "sync-all" | "discover"] | ["nodes", _, "discover" | "sync-models"])
}

async fn discover_one<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let node = rows(ctx.db, Some(id)).await?.into_iter().next().ok_or_else(|| not_found(&format!("node {id}")))?;
    let report = discovery::discover(ctx.db, ctx.platform, &node).await?;
    ctx.audit("node.discover", "node", Some(&id.to_string()), &json!({"models": report.models, "added": report.added, "vanished": report.vanished, "error": report.error, "warning": report.warning})).await?;
    if let Some(e) = &report.error {
        return Err(GatewayError::Upstream { status: 502, message: format!("discovery on node '{}' failed, its last good catalog is kept: {e}", node.name) });
    }
    ok(serde_json::to_value(&report).unwrap_or_default())
}

async fn discover_all<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let mut reports = Vec::new();
    for node in rows(ctx.db, None).await?.into_iter().filter(|n| n.active) {
        reports.push(discovery::discover(ctx.db, ctx.platform, &node).await?);
    }
    ctx.audit("node.discover_all", "node", None, &json!({"nodes": reports.len()})).await?;
    ok(json!({"results": reports}))
}

async fn health_one<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let node = rows(ctx.db, Some(id)).await?.into_iter().next().ok_or_else(|| not_found(&format!("node {id}")))?;
    let settings = crate::admin::settings::current(ctx.db).await?;
    let report = health::check(ctx.db, ctx.platform, &node, &settings).await?;
    // A node the admin just saw healthy serves again at once, in every isolate.
    if report.ok {
        ctx.platform.clear_breakers(id).await;
    }
    ctx.audit("node.health_check", "node", Some(&id.to_string()), &json!({"ok": report.ok, "health_status": report.health_status})).await?;
    ok(serde_json::to_value(&report).unwrap_or_default())
}

async fn health_all<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let settings = crate::admin::settings::current(ctx.db).await?;
    let mut reports = Vec::new();
    for node in rows(ctx.db, None).await?.into_iter().filter(|n| n.active) {
        let report = health::check(ctx.db, ctx.platform, &node, &settings).await?;
        if report.ok {
            ctx.platform.clear_breakers(node.id).await;
        }
        reports.push(report);
    }
    ctx.audit("node.health_check_all", "node", None, &json!({"nodes": reports.len()})).await?;
    ok(json!({"results": reports}))
}

async fn distribution<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx
        .json(
            "SELECT COALESCE(json_agg(x ORDER BY x.model_name), '[]'::json)::text FROM (
               SELECT m.model_name, count(*) AS node_count,
                      json_agg(json_build_object('node_id', n.id, 'node_name', n.name, 'is_available', m.is_available, 'is_loaded', m.is_loaded) ORDER BY n.priority, n.id) AS nodes
               FROM node_models m JOIN nodes n ON n.id = m.node_id WHERE m.is_present GROUP BY m.model_name) x",
            &[],
        )
        .await?;
    ok(json!({"models": v}))
}

async fn availability<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str, model: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let available = ctx.input()?.bool("is_available")?.ok_or_else(|| GatewayError::bad_field("is_available", "'is_available' is required"))?;
    let n = ctx
        .exec("UPDATE node_models SET is_available = $3::boolean WHERE node_id = $1::bigint AND model_name = $2::text", &[Param::Int(Some(id)), Param::Text(Some(model.into())), Param::Bool(Some(available))])
        .await?;
    if n == 0 {
        return Err(not_found(&format!("model '{model}' on node {id}")));
    }
    ctx.audit("node.model_availability", "node", Some(&id.to_string()), &json!({"model": model, "is_available": available})).await?;
    ok(json!({"node_id": id, "model_name": model, "is_available": available}))
}
