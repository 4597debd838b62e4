//! `/admin/tool-sets`: named tool lists (null = every tool) that model configs link to. The link
//! is live, so a set in use cannot be deleted out from under its configs.

use super::input::Input;
use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, DbError, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/tool-sets"),
    ("POST", "/admin/tool-sets"),
    ("GET", "/admin/tool-sets/{id}"),
    ("PUT", "/admin/tool-sets/{id}"),
    ("PATCH", "/admin/tool-sets/{id}"),
    ("DELETE", "/admin/tool-sets/{id}"),
];

const FIELDS: &[&str] = &["name", "tools", "description"];

const VIEW: &str = "
    SELECT t.id, t.name, t.tools, t.description,
           (SELECT count(*) FROM model_configs c WHERE c.tool_set_id = t.id) AS used_by,
           t.created_at, t.updated_at
    FROM tool_sets t";

pub fn parse_id(s: &str) -> Result<i64, GatewayError> {
    s.parse().map_err(|_| GatewayError::NotFound(format!("tool set '{s}' not found (ids are numbers)")))
}

async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE t.id = $1::bigint) x"), &[Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("tool set {id}")));
    }
    Ok(v)
}

fn name_taken(e: DbError) -> GatewayError {
    match e {
        DbError::Unique(_) => GatewayError::Conflict { message: "a tool set with this name already exists".into(), field: Some("name".into()) },
        other => other.into(),
    }
}

fn valid_name(name: &str) -> Result<(), GatewayError> {
    if name.chars().count() > 100 {
        return Err(GatewayError::bad_field("name", "'name' must be at most 100 characters"));
    }
    Ok(())
}

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("GET", [id]) => async { get(ctx, parse_id(id)?).await }.await.and_then(ok),
        ("PUT", [id]) | ("PATCH", [id]) => update(ctx, id).await,
        ("DELETE", [id]) => delete(ctx, id).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    ctx.list_all(VIEW, "x.name", "tool_sets").await
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(FIELDS)?;
    let name = input.req_str("name")?;
    valid_name(&name)?;
    let tools = input.nullable_str_list("tools")?.flatten();
    let description = input.str("description")?.unwrap_or_default();
    let id = ctx
        .db
        .json(
            "INSERT INTO tool_sets (name, tools, description) VALUES ($1::text, $2::text[], $3::text) RETURNING to_json(id)",
            &[Param::Text(Some(name.clone())), Param::TextArray(tools.clone()), Param::Text(Some(description.clone()))],
        )
        .await
        .map_err(name_taken)?
        .as_i64()
        .unwrap_or_default();
    ctx.audit("tool_set.create", "tool_set", Some(&id.to_string()), &json!({"name": name, "tools": tools, "description": description})).await?;
    created(get(ctx, id).await?)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let input: Input = ctx.input()?;
    input.only(FIELDS)?;
    get(ctx, id).await?;
    let name = input.str("name")?;
    if input.has("name") && name.as_deref().is_none_or(str::is_empty) {
        return Err(GatewayError::bad_field("name", "'name' cannot be empty"));
    }
    if let Some(n) = &name {
        valid_name(n)?;
    }
    let tools = input.nullable_str_list("tools")?;
    ctx.db
        .exec(
            "UPDATE tool_sets SET name = COALESCE($2::text, name),
           tools = CASE WHEN $3::boolean THEN $4::text[] ELSE tools END,
           description = COALESCE($5::text, description), updated_at = now()
         WHERE id = $1::bigint",
            &[Param::Int(Some(id)), Param::Text(name), Param::Bool(Some(tools.is_some())), Param::TextArray(tools.flatten()), Param::Text(input.str("description")?)],
        )
        .await
        .map_err(name_taken)?;
    ctx.audit("tool_set.update", "tool_set", Some(&id.to_string()), &Value::Object(input.0.clone())).await?;
    get(ctx, id).await.and_then(ok)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let set = get(ctx, id).await?;
    let users = ctx
        .json("SELECT COALESCE(json_agg(model_prefix ORDER BY model_prefix), '[]'::json)::text FROM model_configs WHERE tool_set_id = $1::bigint", &[Param::Int(Some(id))])
        .await?;
    if let Some(configs) = users.as_array().filter(|c| !c.is_empty()) {
        let names: Vec<&str> = configs.iter().filter_map(Value::as_str).collect();
        return Err(GatewayError::Conflict {
            message: format!("tool set '{}' is used by model configs: {}; unlink them first", set["name"].as_str().unwrap_or_default(), names.join(", ")),
            field: None,
        });
    }
    ctx.exec("DELETE FROM tool_sets WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
    ctx.audit("tool_set.delete", "tool_set", Some(&id.to_string()), &json!({"name": set["name"]})).await?;
    no_content()
}
