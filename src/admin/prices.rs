//! `/admin/prices`: the price table per real model and node (see `costs`), and a bulk import of a
//! public price list (`make prices FILE=...` posts a file to `/admin/prices/import`).
//!
//! Amounts are currency per million tokens as decimal numbers (`2.5`, or the string `"2.50"`),
//! stored exactly as integer millionths; answers give both. `node` is a node's name or code;
//! absent or null is the model's default row.

use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::costs::parse_amount;
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Map, Value};

pub const ROUTES: &[super::kit::Route] =
    &[("GET", "/admin/prices"), ("POST", "/admin/prices"), ("POST", "/admin/prices/import"), ("PATCH", "/admin/prices/{id}"), ("DELETE", "/admin/prices/{id}")];

const VIEW: &str = "
    SELECT p.id, p.model_name AS model, p.node_id, n.name AS node,
           round(p.input_micros::numeric / 1000000, 6) AS input, round(p.output_micros::numeric / 1000000, 6) AS output,
           round(COALESCE(p.cache_read_micros, p.input_micros)::numeric / 1000000, 6) AS cache_read,
           round(COALESCE(p.cache_write_micros, p.input_micros)::numeric / 1000000, 6) AS cache_write,
           p.input_micros, p.output_micros, p.cache_read_micros, p.cache_write_micros, p.source, p.created_at, p.updated_at
    FROM model_prices p LEFT JOIN nodes n ON n.id = p.node_id";

/// Most rows one import may carry.
const IMPORT_MAX: usize = 5000;

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("POST", ["import"]) => import(ctx).await,
        ("PATCH", [id]) => update(ctx, id).await,
        ("DELETE", [id]) => delete(ctx, id).await,
        _ => return None,
    })
}

/// One price as the API takes it, validated; `field` prefixes the names in errors (`prices[3].input`).
struct Entry {
    model: String,
    node: Option<String>,
    input: u64,
    output: u64,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
}

const FIELDS: &[&str] = &["model", "node", "input", "output", "cache_read", "cache_write", "source"];

fn amount(m: &Map<String, Value>, prefix: &str, k: &str) -> Result<Option<u64>, GatewayError> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_amount(v).map(Some).map_err(|e| GatewayError::bad_field(&format!("{prefix}{k}"), format!("'{prefix}{k}' (currency per million tokens) {e}"))),
    }
}

fn entry(m: &Map<String, Value>, prefix: &str) -> Result<Entry, GatewayError> {
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(GatewayError::bad_field(&format!("{prefix}{k}"), format!("unknown field '{prefix}{k}' (allowed: {})", FIELDS.join(", "))));
    }
    let text = |k: &str| match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().len() <= 200 => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(GatewayError::bad_field(&format!("{prefix}{k}"), format!("'{prefix}{k}' must be a string of at most 200 characters"))),
    };
    let model = text("model")?.ok_or_else(|| GatewayError::bad_field(&format!("{prefix}model"), format!("'{prefix}model' is required (the real model name on the node)")))?;
    let input = amount(m, prefix, "input")?;
    let output = amount(m, prefix, "output")?;
    if input.is_none() && output.is_none() {
        return Err(GatewayError::bad_field(&format!("{prefix}input"), format!("'{prefix}input' or '{prefix}output' is required")));
    }
    Ok(Entry {
        model,
        node: text("node")?,
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
        cache_read: amount(m, prefix, "cache_read")?,
        cache_write: amount(m, prefix, "cache_write")?,
    })
}

fn row_json(e: &Entry) -> Value {
    json!({"model": e.model, "node": e.node, "input": e.input, "output": e.output, "cache_read": e.cache_read, "cache_write": e.cache_write})
}

/// Upsert rows (a JSON array of `row_json`) on (model, node). Every named node must exist: 400
/// naming the first unknown one (under `field`).
async fn upsert<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, field: &str, rows: Vec<Value>, source: &str) -> Result<u64, GatewayError> {
    let names: Vec<String> = rows.iter().filter_map(|r| r["node"].as_str().map(String::from)).collect();
    if !names.is_empty() {
        let missing = ctx.json("SELECT to_json(x) FROM unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.name = x OR n.code = x) LIMIT 1", &[Param::TextArray(Some(names))]).await?;
        if let Some(m) = missing.as_str() {
            return Err(GatewayError::bad_field(field, format!("node '{}' not found", m.chars().take(64).collect::<String>())));
        }
    }
    ctx.exec(
        "INSERT INTO model_prices (model_name, node_id, input_micros, output_micros, cache_read_micros, cache_write_micros, source)
         SELECT r.model, (SELECT n.id FROM nodes n WHERE n.name = r.node OR n.code = r.node ORDER BY (n.name = r.node) DESC LIMIT 1),
                r.input, r.output, r.cache_read, r.cache_write, $2::text
         FROM jsonb_to_recordset($1::jsonb) AS r(model text, node text, input bigint, output bigint, cache_read bigint, cache_write bigint)
         ON CONFLICT (model_name, (COALESCE(node_id, 0))) DO UPDATE SET input_micros = EXCLUDED.input_micros, output_micros = EXCLUDED.output_micros,
             cache_read_micros = EXCLUDED.cache_read_micros, cache_write_micros = EXCLUDED.cache_write_micros, source = EXCLUDED.source, updated_at = now()",
        &[Param::Json(Some(Value::Array(rows))), Param::Text(Some(source.to_string()))],
    )
    .await
    .map_err(Into::into)
}

async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, model: &str, node: Option<&str>) -> Result<Value, GatewayError> {
    ctx.json(
        &format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE p.model_name = $1::text AND p.node_id IS NOT DISTINCT FROM (SELECT id FROM nodes WHERE name = $2::text OR code = $2::text ORDER BY (name = $2::text) DESC LIMIT 1)) x"),
        &[Param::Text(Some(model.into())), Param::Text(node.map(String::from))],
    )
    .await
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.model, x.node NULLS FIRST), '[]'::json)::text FROM ({VIEW}) x"), &[]).await?;
    let currency = super::settings::current(ctx.db).await?.currency;
    ok(json!({"prices": v, "total": v.as_array().map(Vec::len).unwrap_or(0), "currency": currency, "unit": "currency per million tokens"}))
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let e = entry(&input.0, "")?;
    let source = input.str("source")?.unwrap_or_else(|| "admin".into());
    upsert(ctx, "node", vec![row_json(&e)], &source).await?;
    ctx.audit("price.set", "price", Some(&e.model), &Value::Object(input.0.clone())).await?;
    created(get(ctx, &e.model, e.node.as_deref()).await?)
}

async fn import<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["prices", "source", "currency"])?;
    let Some(Value::Array(items)) = input.raw("prices") else {
        return Err(GatewayError::bad_field("prices", "'prices' must be a list of {model, node?, input, output, cache_read?, cache_write?}"));
    };
    if items.len() > IMPORT_MAX {
        return Err(GatewayError::bad_field("prices", format!("'prices' holds at most {IMPORT_MAX} entries per import")));
    }
    // A file priced in another currency would silently mislabel every cost.
    let currency = super::settings::current(ctx.db).await?.currency;
    if let Some(c) = input.str("currency")?.filter(|c| !c.eq_ignore_ascii_case(&currency)) {
        return Err(GatewayError::bad_field("currency", format!("the file's prices are in {c}, the gateway's costs.currency is {currency}: convert the file or change the setting first")));
    }
    let mut rows = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("prices[{i}].");
        let m = item.as_object().ok_or_else(|| GatewayError::bad_field(&format!("prices[{i}]"), format!("'prices[{i}]' must be an object")))?;
        let e = entry(m, &prefix)?;
        if !seen.insert((e.model.clone(), e.node.clone())) {
            return Err(GatewayError::bad_field(&format!("prices[{i}]"), format!("'prices[{i}]' repeats model '{}' on the same node", e.model)));
        }
        rows.push(row_json(&e));
    }
    let source = input.str("source")?.unwrap_or_else(|| "import".into());
    let n = upsert(ctx, "prices", rows, &source).await?;
    ctx.audit("price.import", "price", None, &json!({"count": n, "source": source})).await?;
    ok(json!({"imported": n, "source": source, "currency": currency}))
}

fn price_id(id: &str) -> Result<i64, GatewayError> {
    id.parse().map_err(|_| not_found(&format!("price {id}")))
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = price_id(id)?;
    let input = ctx.input()?;
    input.only(&["input", "output", "cache_read", "cache_write", "source"])?;
    // null clears a cache price back to "same as input"; absent leaves it.
    let cache = |k: &str| -> Result<(bool, Option<i64>), GatewayError> { Ok((input.has(k), amount(&input.0, "", k)?.map(|v| v as i64))) };
    let (cr_set, cr) = cache("cache_read")?;
    let (cw_set, cw) = cache("cache_write")?;
    let n = ctx
        .exec(
            "UPDATE model_prices SET input_micros = COALESCE($2::bigint, input_micros), output_micros = COALESCE($3::bigint, output_micros),
                    cache_read_micros = CASE WHEN $4::boolean THEN $5::bigint ELSE cache_read_micros END,
                    cache_write_micros = CASE WHEN $6::boolean THEN $7::bigint ELSE cache_write_micros END,
                    source = COALESCE($8::text, source), updated_at = now()
             WHERE id = $1::bigint",
            &[
                Param::Int(Some(id)),
                Param::Int(amount(&input.0, "", "input")?.map(|v| v as i64)),
                Param::Int(amount(&input.0, "", "output")?.map(|v| v as i64)),
                Param::Bool(Some(cr_set)),
                Param::Int(cr),
                Param::Bool(Some(cw_set)),
                Param::Int(cw),
                Param::Text(input.str("source")?),
            ],
        )
        .await?;
    if n == 0 {
        return Err(not_found(&format!("price {id}")));
    }
    ctx.audit("price.update", "price", Some(&id.to_string()), &Value::Object(input.0.clone())).await?;
    ok(ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE p.id = $1::bigint) x"), &[Param::Int(Some(id))]).await?)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = price_id(id)?;
    if ctx.exec("DELETE FROM model_prices WHERE id = $1::bigint", &[Param::Int(Some(id))]).await? == 0 {
        return Err(not_found(&format!("price {id}")));
    }
    ctx.audit("price.delete", "price", Some(&id.to_string()), &json!({})).await?;
    no_content()
}
