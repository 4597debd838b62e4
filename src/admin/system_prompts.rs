//! `/admin/system-prompts`: prompts injected by scope (user, node, group, model, mapping), higher
//! priority first, with a bulk reorder for the dashboard's drag and drop.

use super::input::{as_int, Input};
use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/system-prompts"),
    ("POST", "/admin/system-prompts"),
    ("PUT", "/admin/system-prompts/reorder"),
    ("GET", "/admin/system-prompts/{id}"),
    ("PUT", "/admin/system-prompts/{id}"),
    ("PATCH", "/admin/system-prompts/{id}"),
    ("DELETE", "/admin/system-prompts/{id}"),
];

pub const SCOPES: &[&str] = &["user", "node", "group", "model", "mapping"];
const FIELDS: &[&str] = &["scope_type", "scope_value", "prompt", "priority", "is_active", "description"];
const MAX_PROMPT_CHARS: usize = 100_000;
const PRIORITY_RANGE: (i64, i64) = (-1_000_000, 1_000_000);

const VIEW: &str = "SELECT p.id, p.scope_type, p.scope_value, p.prompt, p.priority, p.is_active, p.description, p.created_at, p.updated_at FROM system_prompts p";

fn parse_id(s: &str) -> Result<i64, GatewayError> {
    s.parse().map_err(|_| GatewayError::NotFound(format!("system prompt '{s}' not found (ids are numbers)")))
}

async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE p.id = $1::bigint) x"), &[Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("system prompt {id}")));
    }
    Ok(v)
}

/// The validated fields present in the input (None = absent).
struct Fields {
    scope_type: Option<String>,
    scope_value: Option<String>,
    prompt: Option<String>,
    priority: Option<i64>,
    is_active: Option<bool>,
    description: Option<String>,
}

fn fields(input: &Input) -> Result<Fields, GatewayError> {
    input.only(FIELDS)?;
    let non_empty = |k: &str| -> Result<Option<String>, GatewayError> {
        match input.str(k)? {
            Some(s) if s.is_empty() => Err(GatewayError::bad_field(k, format!("'{k}' cannot be empty"))),
            None if input.has(k) => Err(GatewayError::bad_field(k, format!("'{k}' cannot be null"))),
            v => Ok(v),
        }
    };
    let scope_type = non_empty("scope_type")?;
    if let Some(s) = &scope_type {
        if !SCOPES.contains(&s.as_str()) {
            return Err(GatewayError::bad_field("scope_type", format!("'scope_type' must be one of {}", SCOPES.join(", "))));
        }
    }
    let prompt = non_empty("prompt")?;
    if prompt.as_ref().is_some_and(|p| p.chars().count() > MAX_PROMPT_CHARS) {
        return Err(GatewayError::bad_field("prompt", format!("'prompt' must be at most {MAX_PROMPT_CHARS} characters")));
    }
    Ok(Fields {
        scope_type,
        scope_value: non_empty("scope_value")?,
        prompt,
        priority: input.int_in("priority", PRIORITY_RANGE.0, PRIORITY_RANGE.1)?,
        is_active: input.bool("is_active")?,
        description: input.str("description")?,
    })
}

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("PUT", ["reorder"]) => reorder(ctx).await,
        ("GET", [id]) => async { get(ctx, parse_id(id)?).await }.await.and_then(ok),
        ("PUT", [id]) | ("PATCH", [id]) => update(ctx, id).await,
        ("DELETE", [id]) => delete(ctx, id).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    ctx.list_all(VIEW, "x.priority DESC, x.id", "prompts").await
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let f = fields(&input)?;
    let required = |v: &Option<String>, k: &str| v.clone().ok_or_else(|| GatewayError::bad_field(k, format!("'{k}' is required")));
    let (scope_type, scope_value, prompt) = (required(&f.scope_type, "scope_type")?, required(&f.scope_value, "scope_value")?, required(&f.prompt, "prompt")?);
    let id = ctx
        .json(
            "INSERT INTO system_prompts (scope_type, scope_value, prompt, priority, is_active, description)
             VALUES ($1::text, $2::text, $3::text, COALESCE($4::bigint, 0), COALESCE($5::boolean, true), COALESCE($6::text, ''))
             RETURNING to_json(id)",
            &[
                Param::Text(Some(scope_type.clone())),
                Param::Text(Some(scope_value.clone())),
                Param::Text(Some(prompt.clone())),
                Param::Int(f.priority),
                Param::Bool(f.is_active),
                Param::Text(f.description.clone()),
            ],
        )
        .await?
        .as_i64()
        .unwrap_or_default();
    ctx.audit(
        "system_prompt.create",
        "system_prompt",
        Some(&id.to_string()),
        &json!({"scope_type": scope_type, "scope_value": scope_value, "prompt_chars": prompt.chars().count(), "priority": f.priority, "is_active": f.is_active}),
    )
    .await?;
    created(get(ctx, id).await?)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let input = ctx.input()?;
    let f = fields(&input)?;
    get(ctx, id).await?;
    ctx.exec(
        "UPDATE system_prompts SET scope_type = COALESCE($2::text, scope_type), scope_value = COALESCE($3::text, scope_value), prompt = COALESCE($4::text, prompt),
           priority = COALESCE($5::bigint, priority), is_active = COALESCE($6::boolean, is_active), description = COALESCE($7::text, description), updated_at = now()
         WHERE id = $1::bigint",
        &[
            Param::Int(Some(id)),
            Param::Text(f.scope_type.clone()),
            Param::Text(f.scope_value.clone()),
            Param::Text(f.prompt.clone()),
            Param::Int(f.priority),
            Param::Bool(f.is_active),
            Param::Text(f.description.clone()),
        ],
    )
    .await?;
    let mut details = input.0.clone();
    // The audit keeps the size of a new prompt, not its text: prompts can be long.
    if let Some(p) = details.remove("prompt") {
        details.insert("prompt_chars".into(), json!(p.as_str().map(|s| s.chars().count())));
    }
    ctx.audit("system_prompt.update", "system_prompt", Some(&id.to_string()), &Value::Object(details)).await?;
    get(ctx, id).await.and_then(ok)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let row = get(ctx, id).await?;
    ctx.exec("DELETE FROM system_prompts WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
    ctx.audit("system_prompt.delete", "system_prompt", Some(&id.to_string()), &json!({"scope_type": row["scope_type"], "scope_value": row["scope_value"]})).await?;
    no_content()
}

async fn reorder<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["prompts"])?;
    let Some(Value::Array(items)) = input.raw("prompts") else {
        return Err(GatewayError::bad_field("prompts", "'prompts' must be a list of {id, priority}"));
    };
    let mut pairs = Vec::with_capacity(items.len());
    for it in items {
        match (it.get("id").and_then(as_int), it.get("priority").and_then(as_int)) {
            (Some(id), Some(p)) if (PRIORITY_RANGE.0..=PRIORITY_RANGE.1).contains(&p) => pairs.push(json!([id, p])),
            _ => return Err(GatewayError::bad_field("prompts", format!("each entry needs an integer id and a priority between {} and {}", PRIORITY_RANGE.0, PRIORITY_RANGE.1))),
        }
    }
    let missing = ctx
        .json(
            "SELECT COALESCE(json_agg(p->0), '[]'::json)::text FROM jsonb_array_elements($1::jsonb) p WHERE NOT EXISTS (SELECT 1 FROM system_prompts s WHERE s.id = (p->>0)::bigint)",
            &[Param::Json(Some(Value::Array(pairs.clone())))],
        )
        .await?;
    if missing.as_array().is_some_and(|m| !m.is_empty()) {
        return Err(GatewayError::NotFound(format!("system prompt(s) {missing} not found")));
    }
    ctx.exec(
        "UPDATE system_prompts s SET priority = (p->>1)::int, updated_at = now() FROM jsonb_array_elements($1::jsonb) p WHERE s.id = (p->>0)::bigint",
        &[Param::Json(Some(Value::Array(pairs.clone())))],
    )
    .await?;
    ctx.audit("system_prompt.reorder", "system_prompt", None, &json!({"prompts": items})).await?;
    list(ctx).await
}
