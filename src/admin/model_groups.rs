//! `/admin/model-groups`: groups (strategy, node strategy, catalog listing, failover budget)
//! and their members (weight, priority, capability tags, fallback flags, preferred nodes).

use super::input::{as_int, Input};
use super::model_mappings::check_nodes;
use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

const GROUP_VIEW: &str = "
    SELECT g.id, g.name, g.description, g.strategy, g.node_strategy, g.is_active, g.list_in_catalog, g.priority, g.max_failover_retries,
           g.created_at, g.updated_at,
           COALESCE((SELECT json_agg(json_build_object(
               'id', m.id, 'model_name', m.model_name, 'model_display_name', m.model_name, 'capability_tags', m.capability_tags,
               'weight', m.weight, 'priority', m.priority, 'is_fallback', m.is_fallback, 'is_fallback_413', m.is_fallback_413,
               'is_metadata_source', m.is_metadata_source, 'is_active', m.is_active,
               'preferred_node_ids', COALESCE((SELECT json_agg(p.node_id ORDER BY p.position, p.node_id) FROM model_group_member_nodes p WHERE p.member_id = m.id), '[]'::json)
             ) ORDER BY m.priority, m.id) FROM model_group_members m WHERE m.group_id = g.id), '[]'::json) AS members
    FROM model_groups g";

fn strategy(input: &Input, key: &str, allow_least_busy: bool) -> Result<Option<String>, GatewayError> {
    match input.str(key)? {
        None => Ok(None),
        Some(s) if matches!(s.as_str(), "priority" | "weighted" | "round_robin") || (allow_least_busy && s == "least_busy") => Ok(Some(s)),
        Some(_) => Err(GatewayError::bad_field(key, format!("'{key}' must be one of priority, weighted, round_robin{}", if allow_least_busy { ", least_busy" } else { "" }))),
    }
}

async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({GROUP_VIEW} WHERE g.name = $1::text) x"), &[Param::Text(Some(name.into()))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("group '{name}'")));
    }
    Ok(v)
}

async fn group_id<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<i64, GatewayError> {
    ctx.json("SELECT to_json(id) FROM model_groups WHERE name = $1::text", &[Param::Text(Some(name.into()))]).await?.as_i64().ok_or_else(|| not_found(&format!("group '{name}'")))
}

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/model-groups"),
    ("POST", "/admin/model-groups"),
    ("PUT", "/admin/model-groups/reorder"),
    ("POST", "/admin/model-groups/reorder"),
    ("GET", "/admin/model-groups/{name}"),
    ("PUT", "/admin/model-groups/{name}"),
    ("PATCH", "/admin/model-groups/{name}"),
    ("DELETE", "/admin/model-groups/{name}"),
    ("POST", "/admin/model-groups/{name}/members"),
    ("PUT", "/admin/model-groups/{name}/members/reorder"),
    ("POST", "/admin/model-groups/{name}/members/reorder"),
    ("PUT", "/admin/model-groups/{name}/members/{id}"),
    ("PATCH", "/admin/model-groups/{name}/members/{id}"),
    ("DELETE", "/admin/model-groups/{name}/members/{id}"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("PUT", ["reorder"]) | ("POST", ["reorder"]) => reorder_groups(ctx).await,
        ("GET", [g]) => get(ctx, g).await.and_then(ok),
        ("PUT", [g]) | ("PATCH", [g]) => update(ctx, g).await,
        ("DELETE", [g]) => delete(ctx, g).await,
        ("POST", [g, "members"]) => add_member(ctx, g).await,
        ("PUT", [g, "members", "reorder"]) | ("POST", [g, "members", "reorder"]) => reorder_members(ctx, g).await,
        ("PUT", [g, "members", id]) | ("PATCH", [g, "members", id]) => update_member(ctx, g, id).await,
        ("DELETE", [g, "members", id]) => delete_member(ctx, g, id).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    ctx.list_all(GROUP_VIEW, "x.priority, x.name", "groups").await
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let name = input.req_str("name")?;
    if !matches!(input.raw("members"), None | Some(Value::Null) | Some(Value::Array(_))) {
        return Err(GatewayError::bad_field("members", "'members' must be a list of member objects"));
    }
    if !ctx.json("SELECT to_json(1) FROM model_groups WHERE name = $1::text", &[Param::Text(Some(name.clone()))]).await?.is_null() {
        return Err(GatewayError::Conflict { message: format!("group '{name}' already exists"), field: Some("name".into()) });
    }
    let id = ctx
        .json(
            "INSERT INTO model_groups (name, description, strategy, node_strategy, is_active, list_in_catalog, priority, max_failover_retries)
             VALUES ($1::text, COALESCE($2::text, ''), COALESCE($3::text, 'priority'), $4::text, COALESCE($5::boolean, true), COALESCE($6::boolean, true), COALESCE($7::bigint, 0), $8::bigint)
             RETURNING to_json(id)",
            &[
                Param::Text(Some(name.clone())),
                Param::Text(input.str("description")?),
                Param::Text(strategy(&input, "strategy", false)?),
                Param::Text(strategy(&input, "node_strategy", true)?),
                Param::Bool(input.bool("is_active")?),
                Param::Bool(input.bool("list_in_catalog")?),
                Param::Int(input.int_in("priority", i32::MIN.into(), i32::MAX.into())?),
                Param::Int(input.int_in("max_failover_retries", 0, 20)?),
            ],
        )
        .await?
        .as_i64()
        .unwrap_or_default();
    if let Some(Value::Array(members)) = input.raw("members") {
        for (i, m) in members.iter().enumerate() {
            let Value::Object(obj) = m else {
                return Err(GatewayError::bad_field(format!("members[{i}]"), "each member must be an object"));
            };
            insert_member(ctx, id, &Input(obj.clone())).await?;
        }
    }
    ctx.audit("group.create", "group", Some(&name), &Value::Object(input.0.clone())).await?;
    created(get(ctx, &name).await?)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let id = group_id(ctx, name).await?;
    let new_name = input.str("name")?.filter(|n| !n.is_empty() && n != name);
    if let Some(n) = &new_name {
        if !ctx.json("SELECT to_json(1) FROM model_groups WHERE name = $1::text", &[Param::Text(Some(n.clone()))]).await?.is_null() {
            return Err(GatewayError::Conflict { message: format!("group '{n}' already exists"), field: Some("name".into()) });
        }
    }
    let retries = input.nullable_int("max_failover_retries")?;
    if let Some(Some(r)) = retries {
        if !(0..=20).contains(&r) {
            return Err(GatewayError::bad_field("max_failover_retries", "'max_failover_retries' must be between 0 and 20"));
        }
    }
    ctx.exec(
        "UPDATE model_groups SET name = COALESCE($2::text, name), description = COALESCE($3::text, description), strategy = COALESCE($4::text, strategy),
           node_strategy = CASE WHEN $5::boolean THEN $6::text ELSE node_strategy END,
           is_active = COALESCE($7::boolean, is_active), list_in_catalog = COALESCE($8::boolean, list_in_catalog), priority = COALESCE($9::bigint, priority),
           max_failover_retries = CASE WHEN $10::boolean THEN $11::bigint ELSE max_failover_retries END, updated_at = now()
         WHERE id = $1::bigint",
        &[
            Param::Int(Some(id)),
            Param::Text(new_name.clone()),
            Param::Text(input.str("description")?),
            Param::Text(strategy(&input, "strategy", false)?),
            Param::Bool(Some(input.has("node_strategy"))),
            Param::Text(strategy(&input, "node_strategy", true)?),
            Param::Bool(input.bool("is_active")?),
            Param::Bool(input.bool("list_in_catalog")?),
            Param::Int(input.int_in("priority", i32::MIN.into(), i32::MAX.into())?),
            Param::Bool(Some(retries.is_some())),
            Param::Int(retries.flatten()),
        ],
    )
    .await?;
    let final_name = new_name.unwrap_or_else(|| name.to_string());
    ctx.audit("group.update", "group", Some(&final_name), &Value::Object(input.0.clone())).await?;
    get(ctx, &final_name).await.and_then(ok)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Reply, GatewayError> {
    let n = ctx.exec("DELETE FROM model_groups WHERE name = $1::text", &[Param::Text(Some(name.into()))]).await?;
    if n == 0 {
        return Err(not_found(&format!("group '{name}'")));
    }
    ctx.audit("group.delete", "group", Some(name), &json!({})).await?;
    no_content()
}

async fn reorder_groups<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let Some(Value::Array(items)) = input.raw("groups") else {
        return Err(GatewayError::bad_field("groups", "'groups' must be a list of {name, priority}"));
    };
    for it in items {
        let (Some(n), Some(p)) = (it.get("name").and_then(Value::as_str), it.get("priority").and_then(as_int)) else {
            return Err(GatewayError::bad_field("groups", "each entry needs a name and an integer priority"));
        };
        if ctx.exec("UPDATE model_groups SET priority = $2::bigint, updated_at = now() WHERE name = $1::text", &[Param::Text(Some(n.into())), Param::Int(Some(p))]).await? == 0 {
            return Err(not_found(&format!("group '{n}'")));
        }
    }
    ctx.audit("group.reorder", "group", None, &Value::Object(input.0.clone())).await?;
    list(ctx).await
}

fn tags(input: &Input) -> Result<Option<Vec<String>>, GatewayError> {
    Ok(input.str_list("capability_tags")?.or(input.str_list("tags")?).map(|t| t.into_iter().map(|s| s.to_ascii_lowercase()).collect()))
}

async fn set_preferred<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, member: i64, ids: &[i64]) -> Result<(), GatewayError> {
    check_nodes(ctx, "preferred_node_ids", ids).await?;
    ctx.exec("DELETE FROM model_group_member_nodes WHERE member_id = $1::bigint", &[Param::Int(Some(member))]).await?;
    for (pos, id) in ids.iter().enumerate() {
        ctx.exec(
            "INSERT INTO model_group_member_nodes (member_id, node_id, position) VALUES ($1::bigint, $2::bigint, $3::bigint) ON CONFLICT DO NOTHING",
            &[Param::Int(Some(member)), Param::Int(Some(*id)), Param::Int(Some(pos as i64))],
        )
        .await?;
    }
    Ok(())
}

/// A member's weight, priority and flags, in the column order both statements use.
fn member_flags(input: &Input) -> Result<Vec<Param>, GatewayError> {
    Ok(vec![
        Param::Int(input.int_in("weight", 0, 1_000_000)?),
        Param::Int(input.int_in("priority", i32::MIN.into(), i32::MAX.into())?),
        Param::Bool(input.bool("is_fallback")?),
        Param::Bool(input.bool("is_fallback_413")?),
        Param::Bool(input.bool("is_metadata_source")?),
        Param::Bool(input.bool("is_active")?),
    ])
}

async fn insert_member<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, group: i64, input: &Input) -> Result<i64, GatewayError> {
    let model = match input.str("model_name")?.or(input.str("model_display_name")?) {
        Some(m) if !m.is_empty() => m,
        _ => return Err(GatewayError::bad_field("model_name", "'model_name' is required")),
    };
    let dup = ctx.json("SELECT to_json(1) FROM model_group_members WHERE group_id = $1::bigint AND model_name = $2::text", &[Param::Int(Some(group)), Param::Text(Some(model.clone()))]).await?;
    if !dup.is_null() {
        return Err(GatewayError::Conflict { message: format!("'{model}' is already a member of this group"), field: Some("model_name".into()) });
    }
    let id = ctx
        .json(
            "INSERT INTO model_group_members (group_id, model_name, capability_tags, weight, priority, is_fallback, is_fallback_413, is_metadata_source, is_active)
             VALUES ($1::bigint, $2::text, COALESCE($3::text[], '{}'), COALESCE($4::bigint, 1), COALESCE($5::bigint, 0), COALESCE($6::boolean, false), COALESCE($7::boolean, false), COALESCE($8::boolean, false), COALESCE($9::boolean, true))
             RETURNING to_json(id)",
            &[&[Param::Int(Some(group)), Param::Text(Some(model)), Param::TextArray(tags(input)?)][..], &member_flags(input)?].concat(),
        )
        .await?
        .as_i64()
        .unwrap_or_default();
    if let Some(ids) = input.int_list("preferred_node_ids")? {
        set_preferred(ctx, id, &ids).await?;
    }
    Ok(id)
}

async fn add_member<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, group: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let gid = group_id(ctx, group).await?;
    let id = insert_member(ctx, gid, &input).await?;
    ctx.audit("group.member_add", "group", Some(group), &Value::Object(input.0.clone())).await?;
    let g = get(ctx, group).await?;
    let member = g["members"].as_array().and_then(|ms| ms.iter().find(|m| m["id"].as_i64() == Some(id)).cloned()).unwrap_or(Value::Null);
    created(member)
}

fn member_id(s: &str) -> Result<i64, GatewayError> {
    s.parse().map_err(|_| GatewayError::NotFound(format!("member '{s}' not found (ids are numbers)")))
}

async fn update_member<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, group: &str, id: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let gid = group_id(ctx, group).await?;
    let mid = member_id(id)?;
    let rename = input.str("model_name")?.or(input.str("model_display_name")?).filter(|s| !s.is_empty());
    if let Some(name) = &rename {
        let taken = ctx
            .json("SELECT to_json(1) FROM model_group_members WHERE group_id = $1::bigint AND model_name = $2::text AND id <> $3::bigint", &[Param::Int(Some(gid)), Param::Text(Some(name.clone())), Param::Int(Some(mid))])
            .await?;
        if !taken.is_null() {
            return Err(GatewayError::Conflict { message: format!("'{name}' is already a member of this group"), field: Some("model_name".into()) });
        }
    }
    let n = ctx
        .exec(
            "UPDATE model_group_members SET model_name = COALESCE($3::text, model_name), capability_tags = COALESCE($4::text[], capability_tags),
               weight = COALESCE($5::bigint, weight), priority = COALESCE($6::bigint, priority), is_fallback = COALESCE($7::boolean, is_fallback),
               is_fallback_413 = COALESCE($8::boolean, is_fallback_413), is_metadata_source = COALESCE($9::boolean, is_metadata_source),
               is_active = COALESCE($10::boolean, is_active)
             WHERE id = $1::bigint AND group_id = $2::bigint",
            &[&[Param::Int(Some(mid)), Param::Int(Some(gid)), Param::Text(rename.clone()), Param::TextArray(tags(&input)?)][..], &member_flags(&input)?].concat(),
        )
        .await?;
    if n == 0 {
        return Err(not_found(&format!("member {mid} of group '{group}'")));
    }
    if let Some(ids) = input.int_list("preferred_node_ids")? {
        set_preferred(ctx, mid, &ids).await?;
    }
    ctx.audit("group.member_update", "group", Some(group), &json!({"member_id": mid, "changes": Value::Object(input.0.clone())})).await?;
    let g = get(ctx, group).await?;
    ok(g["members"].as_array().and_then(|ms| ms.iter().find(|m| m["id"].as_i64() == Some(mid)).cloned()).unwrap_or(Value::Null))
}

async fn delete_member<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, group: &str, id: &str) -> Result<Reply, GatewayError> {
    let gid = group_id(ctx, group).await?;
    let mid = member_id(id)?;
    if ctx.exec("DELETE FROM model_group_members WHERE id = $1::bigint AND group_id = $2::bigint", &[Param::Int(Some(mid)), Param::Int(Some(gid))]).await? == 0 {
        return Err(not_found(&format!("member {mid} of group '{group}'")));
    }
    ctx.audit("group.member_delete", "group", Some(group), &json!({"member_id": mid})).await?;
    no_content()
}

async fn reorder_members<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, group: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let gid = group_id(ctx, group).await?;
    // Either {members: [{id, priority}]} or {member_ids: [..]} (order = priority).
    let pairs: Vec<(i64, i64)> = if let Some(ids) = input.int_list("member_ids")? {
        ids.iter().enumerate().map(|(i, id)| (*id, i as i64)).collect()
    } else if let Some(Value::Array(items)) = input.raw("members") {
        items
            .iter()
            .map(|it| match (it.get("id").and_then(as_int), it.get("priority").and_then(as_int)) {
                (Some(id), Some(p)) => Ok((id, p)),
                _ => Err(GatewayError::bad_field("members", "each entry needs an integer id and priority")),
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(GatewayError::bad_field("members", "send 'members': [{id, priority}] or 'member_ids': [..]"));
    };
    for (id, p) in &pairs {
        if ctx.exec("UPDATE model_group_members SET priority = $3::bigint WHERE id = $1::bigint AND group_id = $2::bigint", &[Param::Int(Some(*id)), Param::Int(Some(gid)), Param::Int(Some(*p))]).await? == 0 {
            return Err(not_found(&format!("member {id} of group '{group}'")));
        }
    }
    ctx.audit("group.member_reorder", "group", Some(group), &Value::Object(input.0.clone())).await?;
    get(ctx, group).await.and_then(ok)
}
