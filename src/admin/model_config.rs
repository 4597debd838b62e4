//! `/admin/model-config`: per-model behaviour by name prefix (tools, stripped parameters, context
//! lengths, rate hints, node strategy, maintenance). Writes merge the input over the stored row
//! and validate the result as a whole, so PATCH cannot produce a config POST would refuse.

use super::input::{context_length, Input};
use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, DbError, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/model-config"),
    ("POST", "/admin/model-config"),
    ("GET", "/admin/model-config/{id}"),
    ("PUT", "/admin/model-config/{id}"),
    ("PATCH", "/admin/model-config/{id}"),
    ("DELETE", "/admin/model-config/{id}"),
];

const FIELDS: &[&str] = &[
    "model_prefix",
    "is_exact_match",
    "allowed_tools",
    "tool_set_id",
    "unsupported_params",
    "default_context_length",
    "max_context_length",
    "requests_per_minute",
    "tokens_per_minute",
    "node_strategy",
    "maintenance_mode",
    "is_active",
    "description",
    "cost_multiplier",
];

const NODE_STRATEGIES: &[&str] = &["priority", "round_robin", "weighted", "least_busy"];

const VIEW: &str = "
    SELECT c.id, c.model_prefix, c.is_exact_match, c.allowed_tools, c.tool_set_id, t.name AS tool_set_name,
           CASE WHEN c.tool_set_id IS NOT NULL THEN t.tools ELSE c.allowed_tools END AS effective_allowed_tools,
           c.unsupported_params, c.default_context_length, c.max_context_length, c.requests_per_minute, c.tokens_per_minute,
           c.node_strategy, c.maintenance_mode, c.is_active, c.description, c.cost_multiplier, c.created_at, c.updated_at
    FROM model_configs c LEFT JOIN tool_sets t ON t.id = c.tool_set_id";

/// A config row as written: every column, after merging and validation.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    model_prefix: String,
    is_exact_match: bool,
    allowed_tools: Option<Vec<String>>,
    tool_set_id: Option<i64>,
    unsupported_params: Vec<String>,
    default_context_length: Option<i64>,
    max_context_length: Option<i64>,
    requests_per_minute: Option<i64>,
    tokens_per_minute: Option<i64>,
    node_strategy: Option<String>,
    maintenance_mode: bool,
    is_active: bool,
    description: String,
    cost_multiplier: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model_prefix: String::new(),
            is_exact_match: false,
            allowed_tools: None,
            tool_set_id: None,
            unsupported_params: Vec::new(),
            default_context_length: None,
            max_context_length: None,
            requests_per_minute: None,
            tokens_per_minute: None,
            node_strategy: None,
            maintenance_mode: false,
            is_active: true,
            description: String::new(),
            cost_multiplier: 1.0,
        }
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
}

impl Config {
    fn from_row(v: &Value) -> Config {
        Config {
            model_prefix: v["model_prefix"].as_str().unwrap_or_default().into(),
            is_exact_match: v["is_exact_match"].as_bool().unwrap_or(false),
            allowed_tools: strings(&v["allowed_tools"]),
            tool_set_id: v["tool_set_id"].as_i64(),
            unsupported_params: strings(&v["unsupported_params"]).unwrap_or_default(),
            default_context_length: v["default_context_length"].as_i64(),
            max_context_length: v["max_context_length"].as_i64(),
            requests_per_minute: v["requests_per_minute"].as_i64(),
            tokens_per_minute: v["tokens_per_minute"].as_i64(),
            node_strategy: v["node_strategy"].as_str().map(String::from),
            maintenance_mode: v["maintenance_mode"].as_bool().unwrap_or(false),
            is_active: v["is_active"].as_bool().unwrap_or(true),
            description: v["description"].as_str().unwrap_or_default().into(),
            cost_multiplier: v["cost_multiplier"].as_f64().unwrap_or(1.0),
        }
    }

    /// `base` with the input's fields applied (absent = keep, null = clear where allowed).
    fn merge(input: &Input, mut c: Config) -> Result<Config, GatewayError> {
        input.only(FIELDS)?;
        if input.has("model_prefix") {
            c.model_prefix = input.req_str("model_prefix")?;
        }
        if let Some(b) = input.bool("is_exact_match")? {
            c.is_exact_match = b;
        }
        if let Some(t) = input.nullable_str_list("allowed_tools")? {
            c.allowed_tools = t;
        }
        if let Some(id) = input.nullable_int("tool_set_id")? {
            c.tool_set_id = id;
        }
        if input.has("unsupported_params") {
            c.unsupported_params = input.str_list("unsupported_params")?.unwrap_or_default();
        }
        for (key, slot) in [("default_context_length", &mut c.default_context_length), ("max_context_length", &mut c.max_context_length)] {
            if let Some(v) = input.raw(key) {
                *slot = context_length(key, v)?;
            }
        }
        if let Some(v) = input.nullable_int_in("requests_per_minute", 0, i64::from(i32::MAX))? {
            c.requests_per_minute = v;
        }
        if let Some(v) = input.nullable_int_in("tokens_per_minute", 0, i64::from(i32::MAX))? {
            c.tokens_per_minute = v;
        }
        if input.has("node_strategy") {
            c.node_strategy = match input.str("node_strategy")? {
                None => None,
                Some(s) if s.is_empty() => None,
                Some(s) if NODE_STRATEGIES.contains(&s.as_str()) => Some(s),
                Some(_) => return Err(GatewayError::bad_field("node_strategy", format!("'node_strategy' must be null or one of {}", NODE_STRATEGIES.join(", ")))),
            };
        }
        if let Some(b) = input.bool("maintenance_mode")? {
            c.maintenance_mode = b;
        }
        if let Some(b) = input.bool("is_active")? {
            c.is_active = b;
        }
        if input.has("description") {
            c.description = input.str("description")?.unwrap_or_default();
        }
        if let Some(m) = input.number_in("cost_multiplier", 0.0, 1000.0)? {
            c.cost_multiplier = m;
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), GatewayError> {
        if self.model_prefix.is_empty() {
            return Err(GatewayError::bad_field("model_prefix", "'model_prefix' is required"));
        }
        if self.model_prefix.chars().count() > 200 {
            return Err(GatewayError::bad_field("model_prefix", "'model_prefix' must be at most 200 characters"));
        }
        if let (Some(d), Some(m)) = (self.default_context_length, self.max_context_length) {
            if d > m {
                return Err(GatewayError::bad_field("default_context_length", "'default_context_length' cannot exceed 'max_context_length'"));
            }
        }
        Ok(())
    }

    fn params(&self) -> Vec<Param> {
        vec![
            Param::Text(Some(self.model_prefix.clone())),
            Param::Bool(Some(self.is_exact_match)),
            Param::TextArray(self.allowed_tools.clone()),
            Param::Int(self.tool_set_id),
            Param::TextArray(Some(self.unsupported_params.clone())),
            Param::Int(self.default_context_length),
            Param::Int(self.max_context_length),
            Param::Int(self.requests_per_minute),
            Param::Int(self.tokens_per_minute),
            Param::Text(self.node_strategy.clone()),
            Param::Bool(Some(self.maintenance_mode)),
            Param::Bool(Some(self.is_active)),
            Param::Text(Some(self.description.clone())),
            Param::Float(Some(self.cost_multiplier)),
        ]
    }

    fn audit(&self) -> Value {
        json!({
            "model_prefix": self.model_prefix, "is_exact_match": self.is_exact_match, "allowed_tools": self.allowed_tools,
            "tool_set_id": self.tool_set_id, "unsupported_params": self.unsupported_params,
            "default_context_length": self.default_context_length, "max_context_length": self.max_context_length,
            "requests_per_minute": self.requests_per_minute, "tokens_per_minute": self.tokens_per_minute,
            "node_strategy": self.node_strategy, "maintenance_mode": self.maintenance_mode, "is_active": self.is_active,
            "description": self.description, "cost_multiplier": self.cost_multiplier,
        })
    }
}

fn parse_id(s: &str) -> Result<i64, GatewayError> {
    s.parse().map_err(|_| GatewayError::NotFound(format!("model config '{s}' not found (ids are numbers)")))
}

fn write_error(e: DbError) -> GatewayError {
    match e {
        DbError::Unique(_) => GatewayError::Conflict { message: "a model config with this model_prefix already exists".into(), field: Some("model_prefix".into()) },
        DbError::ForeignKey(_) => GatewayError::bad_field("tool_set_id", "'tool_set_id' does not name an existing tool set"),
        other => other.into(),
    }
}

async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE c.id = $1::bigint) x"), &[Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("model config {id}")));
    }
    Ok(v)
}

/// A clear 400 for an unknown tool set (the foreign key would only say which constraint).
async fn check_tool_set<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, c: &Config) -> Result<(), GatewayError> {
    let Some(id) = c.tool_set_id else { return Ok(()) };
    if ctx.json("SELECT to_json(1) FROM tool_sets WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?.is_null() {
        return Err(GatewayError::bad_field("tool_set_id", format!("tool set {id} does not exist")));
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
    ctx.list_all(VIEW, "x.model_prefix", "configs").await
}

const COLUMNS: &str = "model_prefix, is_exact_match, allowed_tools, tool_set_id, unsupported_params, default_context_length, max_context_length,
    requests_per_minute, tokens_per_minute, node_strategy, maintenance_mode, is_active, description, cost_multiplier";
const VALUES: &str =
    "$1::text, $2::boolean, $3::text[], $4::bigint, $5::text[], $6::bigint, $7::bigint, $8::bigint, $9::bigint, $10::text, $11::boolean, $12::boolean, $13::text, $14::float8";

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    if !input.has("model_prefix") {
        return Err(GatewayError::bad_field("model_prefix", "'model_prefix' is required"));
    }
    let c = Config::merge(&input, Config::default())?;
    check_tool_set(ctx, &c).await?;
    let id = ctx
        .db
        .json(&format!("INSERT INTO model_configs ({COLUMNS}) VALUES ({VALUES}) RETURNING to_json(id)"), &c.params())
        .await
        .map_err(write_error)?
        .as_i64()
        .unwrap_or_default();
    ctx.audit("model_config.create", "model_config", Some(&id.to_string()), &c.audit()).await?;
    created(get(ctx, id).await?)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let input = ctx.input()?;
    let current = Config::from_row(&get(ctx, id).await?);
    let c = Config::merge(&input, current)?;
    check_tool_set(ctx, &c).await?;
    let mut params = c.params();
    params.push(Param::Int(Some(id)));
    ctx.db.exec(&format!("UPDATE model_configs SET ({COLUMNS}, updated_at) = ({VALUES}, now()) WHERE id = $15::bigint"), &params).await.map_err(write_error)?;
    ctx.audit("model_config.update", "model_config", Some(&id.to_string()), &Value::Object(input.0.clone())).await?;
    get(ctx, id).await.and_then(ok)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = parse_id(id)?;
    let row = get(ctx, id).await?;
    ctx.exec("DELETE FROM model_configs WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
    ctx.audit("model_config.delete", "model_config", Some(&id.to_string()), &json!({"model_prefix": row["model_prefix"]})).await?;
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(body: &str, base: Config) -> Result<Config, GatewayError> {
        Config::merge(&Input::parse(body.as_bytes()).unwrap(), base)
    }

    #[test]
    fn create_defaults_and_context_lengths() {
        let c = merge(r#"{"model_prefix":"qwen3","max_context_length":"128K","default_context_length":32768}"#, Config::default()).unwrap();
        assert_eq!(c.max_context_length, Some(131072));
        assert_eq!(c.default_context_length, Some(32768));
        assert!(c.is_active);
        assert_eq!(c.cost_multiplier, 1.0);
        assert_eq!(c.allowed_tools, None);
    }

    #[test]
    fn every_bad_value_names_its_field() {
        let cases = [
            (r#"{"model_prefix":""}"#, "model_prefix"),
            (r#"{"model_prefix":"m","node_strategy":"fastest"}"#, "node_strategy"),
            (r#"{"model_prefix":"m","cost_multiplier":-1}"#, "cost_multiplier"),
            (r#"{"model_prefix":"m","cost_multiplier":"x"}"#, "cost_multiplier"),
            (r#"{"model_prefix":"m","requests_per_minute":-5}"#, "requests_per_minute"),
            (r#"{"model_prefix":"m","allowed_tools":"all"}"#, "allowed_tools"),
            (r#"{"model_prefix":"m","max_context_length":"lots"}"#, "max_context_length"),
            (r#"{"model_prefix":"m","default_context_length":9000,"max_context_length":8000}"#, "default_context_length"),
            (r#"{"model_prefix":"m","colour":"blue"}"#, "colour"),
            (r#"{"model_prefix":"m","tool_set_id":"one"}"#, "tool_set_id"),
        ];
        for (body, field) in cases {
            assert_eq!(merge(body, Config::default()).unwrap_err().field(), Some(field), "{body}");
        }
    }

    #[test]
    fn patch_keeps_absent_fields_and_clears_nulls() {
        let base = merge(r#"{"model_prefix":"m","allowed_tools":["a"],"requests_per_minute":5,"description":"d"}"#, Config::default()).unwrap();
        let c = merge(r#"{"requests_per_minute":null,"is_active":false}"#, base.clone()).unwrap();
        assert_eq!(c.allowed_tools, Some(vec!["a".to_string()]));
        assert_eq!(c.requests_per_minute, None);
        assert_eq!(c.description, "d");
        assert!(!c.is_active);
        let c = merge(r#"{"allowed_tools":null}"#, base).unwrap();
        assert_eq!(c.allowed_tools, None);
    }
}
