//! Postgres through Hyperdrive: one short-lived connection per unit of work, driven inside the
//! request and closed cleanly (a spawned connection future gets reset when the request ends,
//! which takes miniflare's local Hyperdrive proxy down). Migrations run once per isolate.

use crate::error::GatewayError;
use crate::state::db::{Db, DbError, Param};
use crate::state::migrations::{LOCK_KEY, MIGRATIONS};
use futures::future::{select, Either};
use serde_json::Value;
use std::cell::Cell;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config};
use worker::postgres_tls::PassthroughTls;
use worker::{Delay, Env, SecureTransport, Socket};

thread_local! {
    static MIGRATED: Cell<bool> = const { Cell::new(false) };
}

const CONNECT_TIMEOUT_MS: u64 = 5000;

pub struct Pg<'a> {
    client: &'a Client,
}

fn unavailable(e: impl std::fmt::Display) -> DbError {
    DbError::Unavailable(e.to_string())
}

fn classify(e: tokio_postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        let constraint = db.constraint().unwrap_or("").to_string();
        return match db.code().code() {
            "23505" => DbError::Unique(constraint),
            "23503" => DbError::ForeignKey(constraint),
            // Bad values the client sent (NUL bytes, out-of-range numbers, impossible dates,
            // oversized keys) are its error, not the server's.
            "23514" | "23502" | "22P02" | "22003" | "22001" | "22021" | "22P05" | "22007" | "22008" | "54000" => DbError::Invalid(db.message().to_string()),
            _ => DbError::Other(db.message().to_string()),
        };
    }
    if e.is_closed() {
        return DbError::Unavailable(e.to_string());
    }
    DbError::Other(e.to_string())
}

/// Run `work` with a fresh connection (migrations applied first), then close it.
pub async fn with_db<T>(env: &Env, work: impl AsyncFnOnce(&Pg<'_>) -> Result<T, GatewayError>) -> Result<T, GatewayError> {
    let hd = env.hyperdrive("DB").map_err(|e| GatewayError::DatabaseUnavailable(format!("no DB binding: {e}")))?;
    let config: Config = hd.connection_string().parse().map_err(|e| GatewayError::DatabaseUnavailable(format!("bad connection string: {e}")))?;
    let socket = Socket::builder()
        .secure_transport(SecureTransport::StartTls)
        .connect(hd.host(), hd.port())
        .map_err(|e| GatewayError::from(unavailable(e)))?;
    let connect = std::pin::pin!(config.connect_raw(socket, PassthroughTls));
    let (client, connection) = match select(connect, Delay::from(Duration::from_millis(CONNECT_TIMEOUT_MS))).await {
        Either::Left((Ok(pair), _)) => pair,
        Either::Left((Err(e), _)) => return Err(unavailable(e).into()),
        Either::Right(_) => return Err(unavailable(format!("no connection within {CONNECT_TIMEOUT_MS} ms")).into()),
    };
    let job = async move {
        let pg = Pg { client: &client };
        let result = async {
            if !MIGRATED.with(Cell::get) {
                migrate(&client).await.map_err(GatewayError::from)?;
                if let Err(e) = seal_node_headers(&client, env).await {
                    // Readers still send plain values, so this only postpones the sealing.
                    worker::console_error!("sealing node header values failed, retried by the next isolate: {e:?}");
                }
                if let Some(url) = default_node_url(env) {
                    bootstrap_default_node(&client, &url).await.map_err(GatewayError::from)?;
                }
                MIGRATED.with(|m| m.set(true));
            }
            work(&pg).await
        }
        .await;
        drop(pg);
        drop(client); // ends the connection future below with a clean Terminate
        result
    };
    let (result, conn) = futures::future::join(job, connection).await;
    if let Err(e) = conn {
        worker::console_warn!("postgres connection ended with an error: {e}");
    }
    result
}

/// Apply missing migrations in one transaction under an advisory lock, so concurrent isolates
/// never race (the loser waits, then sees them applied).
async fn migrate(client: &Client) -> Result<(), DbError> {
    client.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({LOCK_KEY});")).await.map_err(classify)?;
    let result = async {
        client
            .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            .await
            .map_err(classify)?;
        let rows = client.query("SELECT version FROM schema_migrations", &[]).await.map_err(classify)?;
        let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
            client.batch_execute(m.sql).await.map_err(classify)?;
            worker::console_log!("applied migration {:04}_{}", m.version, m.name);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => client.batch_execute("COMMIT").await.map_err(classify),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// Migration 4 marks node rows whose header values are plain text; seal them (the key is a
/// Worker secret, so SQL cannot). Each row is replaced only if nobody changed it meanwhile.
async fn seal_node_headers(client: &Client, env: &Env) -> Result<(), DbError> {
    let rows = client.query("SELECT id, headers::text FROM nodes WHERE NOT headers_sealed", &[]).await.map_err(classify)?;
    if rows.is_empty() {
        return Ok(());
    }
    let sealer = super::env::sealer(env);
    let seal = |v: &str| {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&super::env::random_bytes(12));
        sealer.seal(v, nonce)
    };
    let count = rows.len();
    for row in rows {
        let (id, text): (i64, String) = (row.get(0), row.get(1));
        let plain: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap_or_default();
        let sealed: serde_json::Map<String, Value> = plain.iter().map(|(k, v)| (k.clone(), Value::String(seal(v.as_str().unwrap_or_default())))).collect();
        let sealed = Value::Object(sealed).to_string();
        client
            .execute("UPDATE nodes SET headers = $2::text::jsonb, headers_sealed = true WHERE id = $1 AND NOT headers_sealed AND headers = $3::text::jsonb", &[&id, &sealed, &text])
            .await
            .map_err(classify)?;
    }
    worker::console_log!("sealed the custom header values of {count} node(s)");
    Ok(())
}

/// `DEFAULT_OLLAMA_URL` (set by `make dev`) registers a first Ollama node on a fresh database.
fn default_node_url(env: &Env) -> Option<String> {
    env.var("DEFAULT_OLLAMA_URL").ok().map(|v| v.to_string()).filter(|v| !v.is_empty())
}

/// Register the default node exactly once per database: the audit row marks it done, so an
/// admin who deletes the node does not see it come back.
async fn bootstrap_default_node(client: &Client, url: &str) -> Result<(), DbError> {
    client
        .execute(
            "WITH done AS (SELECT 1 FROM audit_log WHERE action = 'bootstrap.default_node'),
                  node AS (INSERT INTO nodes (name, node_type, base_url, warmup_enabled)
                           SELECT 'local-ollama', 'ollama', $1::text, false WHERE NOT EXISTS (SELECT 1 FROM done)
                           ON CONFLICT (name) DO NOTHING RETURNING id)
             INSERT INTO audit_log (actor, action, entity_type, entity_id, details)
             SELECT 'system', 'bootstrap.default_node', 'node', id::text, json_build_object('base_url', $1::text)::jsonb FROM node",
            &[&url],
        )
        .await
        .map_err(classify)
        .map(|_| ())
}

fn to_sql(p: &Param) -> Box<dyn ToSql + Sync> {
    match p {
        Param::Bool(v) => Box::new(*v),
        Param::Int(v) => Box::new(*v),
        Param::Float(v) => Box::new(*v),
        Param::Text(v) => Box::new(v.clone()),
        Param::Json(v) => Box::new(v.clone()),
        Param::TextArray(v) => Box::new(v.clone()),
    }
}

impl Db for Pg<'_> {
    async fn json(&self, sql: &str, params: &[Param]) -> Result<Value, DbError> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(to_sql).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(sql, &refs).await.map_err(classify)?;
        let Some(row) = rows.first() else { return Ok(Value::Null) };
        // Text, json or jsonb: try each representation.
        if let Ok(s) = row.try_get::<_, Option<String>>(0) {
            return Ok(s.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s))).unwrap_or(Value::Null));
        }
        row.try_get::<_, Option<Value>>(0).map(|v| v.unwrap_or(Value::Null)).map_err(|e| DbError::Other(e.to_string()))
    }

    async fn exec(&self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(to_sql).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.client.execute(sql, &refs).await.map_err(classify)
    }

    async fn batch(&self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).await.map_err(classify)
    }
}
