//! The Worker side of `observe`: `GET /metrics`, the per-isolate batches of OTLP spans and
//! logged payloads (sent with `waitUntil`), Analytics Engine datapoints, and what the cron's
//! alert step needs (the step itself is in `edge/maintenance.rs`). Off (no `otel.endpoint`, no `ANALYTICS` binding, `payload_log.enabled` false), a
//! finished request costs one `is_on` branch here.

use super::batch::{self, Batch};
use super::durable::{breakers, streams};
use super::pg::with_db;
use crate::maintenance::budget::{self, Budget, Kind};
use crate::observe::config::OtelConfig;
use crate::observe::entry::PayloadEntry;
use crate::observe::{metrics, otel};
use crate::settings::Settings;
use crate::usage::UsageRecord;
use futures::future::LocalBoxFuture;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::{web_sys, Env};

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export async function postJson(url, headers, body) {
  const r = await fetch(url, { method: "POST", headers: JSON.parse(headers), body });
  try { await r.arrayBuffer(); } catch (_) {}
  return r.status;
}
export function analyticsDataset(env) {
  const d = env && env.ANALYTICS;
  return d && typeof d.writeDataPoint === "function" ? d : null;
}
export function writePoint(dataset, point) {
  dataset.writeDataPoint(JSON.parse(point));
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = postJson, catch)]
    async fn post_json(url: &str, headers: &str, body: String) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = analyticsDataset)]
    fn analytics_dataset(env: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = writePoint, catch)]
    fn write_point(dataset: &JsValue, point: &str) -> Result<(), JsValue>;
}

/// Spans wait this long in an isolate before they are posted (one call per isolate per
/// second at most, whatever the traffic).
const SPAN_BATCH_MS: u64 = 1_000;
/// Logged payloads: one Postgres write per isolate per second at most.
const PAYLOAD_BATCH_MS: u64 = 1_000;
/// Span contents waiting for their request to finish, at most (requests that never finish
/// must not grow this without bound).
const CONTENT_MAX: usize = 1_000;

thread_local! {
    static SPANS: RefCell<Batch<Value>> = const { RefCell::new(Batch::new()) };
    static PAYLOADS: RefCell<Batch<PayloadEntry>> = const { RefCell::new(Batch::new()) };
    static CONTENT: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    /// The `ANALYTICS` dataset binding, looked up once per isolate (None inside: not bound).
    static ANALYTICS: RefCell<Option<Option<JsValue>>> = const { RefCell::new(None) };
    static OTLP_HEADERS: RefCell<Option<Rc<String>>> = const { RefCell::new(None) };
    static EXPORT_ERRORS: Cell<u32> = const { Cell::new(0) };
}

/// What a finished request exports, decided once per request from the settings.
#[derive(Clone, Default)]
pub struct Telemetry {
    otel: Option<Rc<OtelConfig>>,
    analytics: Option<JsValue>,
}

impl Telemetry {
    pub fn from_settings(env: &Env, s: &Settings) -> Telemetry {
        let analytics = ANALYTICS.with(|a| {
            a.borrow_mut()
                .get_or_insert_with(|| {
                    let d = Some(analytics_dataset(env.as_ref())).filter(|d| !d.is_null());
                    if d.is_some() {
                        worker::console_log!("analytics engine: one datapoint per request goes to the ANALYTICS dataset");
                    }
                    d
                })
                .clone()
        });
        Telemetry { otel: s.observe.otel.clone().map(Rc::new), analytics }
    }

    pub fn is_on(&self) -> bool {
        self.otel.is_some() || self.analytics.is_some()
    }

    /// Queue the span and write the datapoint of a finished request; the future (when this
    /// request opened a span batch) must be kept alive with `waitUntil`.
    pub fn finish(&self, env: &Env, r: &UsageRecord) -> Option<LocalBoxFuture<'static, ()>> {
        if let Some(d) = &self.analytics {
            datapoint(d, r);
        }
        let cfg = self.otel.clone()?;
        let content = if cfg.capture_content { CONTENT.with(|c| c.borrow_mut().remove(&r.id)) } else { None };
        let span = otel::span(r, content.as_deref());
        let headers = otlp_headers(env);
        batch::push(&SPANS, span, SPAN_BATCH_MS, move |spans| async move {
            for chunk in spans.chunks(otel::BATCH_MAX) {
                let body = otel::export(&cfg.service_name, crate::app::VERSION, chunk.to_vec()).to_string();
                match post_json(&cfg.endpoint, &headers, body).await {
                    Ok(s) if s.as_f64().is_some_and(|s| (200.0..300.0).contains(&s)) => {}
                    other => {
                        // Spans are telemetry: dropped, not retried, and said so (rate-limited).
                        let n = EXPORT_ERRORS.with(|e| {
                            e.set(e.get() + 1);
                            e.get()
                        });
                        if n.is_power_of_two() {
                            worker::console_warn!("otel: {} spans not exported to {} ({:?}); {n} failed exports so far", chunk.len(), cfg.endpoint, other.map(|s| s.as_f64()));
                        }
                    }
                }
            }
        })
    }
}

/// A request's body for its span (`otel.capture_content`).
pub fn keep_content(request_id: &str, body: &[u8], max: usize) {
    let (text, _) = crate::observe::payload::text(body, max);
    CONTENT.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CONTENT_MAX {
            c.clear();
        }
        c.insert(request_id.to_string(), text);
    });
}

/// `OTEL_EXPORTER_OTLP_HEADERS` as a JSON object, read once per isolate.
fn otlp_headers(env: &Env) -> Rc<String> {
    OTLP_HEADERS.with(|h| {
        h.borrow_mut()
            .get_or_insert_with(|| {
                let raw = env.secret("OTEL_EXPORTER_OTLP_HEADERS").map(|s| s.to_string()).unwrap_or_default();
                let mut m = serde_json::Map::new();
                m.insert("content-type".into(), "application/json".into());
                for (k, v) in otel::parse_headers(&raw) {
                    m.insert(k, v.into());
                }
                Rc::new(Value::Object(m).to_string())
            })
            .clone()
    })
}

/// One Analytics Engine datapoint: index = requested model; blobs = model, node, user id,
/// dialect, endpoint, error class; doubles = status, duration ms, TTFB ms, input and output
/// tokens. Writing one is a local call (the runtime ships them), so it is done inline.
fn datapoint(d: &JsValue, r: &UsageRecord) {
    let point = serde_json::json!({
        // Analytics Engine takes one index of at most 96 bytes.
        "indexes": [cut_bytes(&r.requested_model, 96)],
        "blobs": [&r.requested_model, &r.node_name, r.user_id.map(|u| u.to_string()).unwrap_or_default(), &r.dialect, &r.endpoint, r.error_class.as_deref().unwrap_or("")],
        "doubles": [r.status as f64, r.duration_ms as f64, r.ttfb_ms.map(|t| t as f64).unwrap_or(-1.0), r.prompt_tokens as f64, r.completion_tokens as f64],
    });
    if let Err(e) = write_point(d, &point.to_string()) {
        worker::console_warn!("analytics engine: datapoint not written: {e:?}");
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Queue a logged payload; written to Postgres per batch.
pub fn log_payload(env: &Env, entry: PayloadEntry) -> Option<LocalBoxFuture<'static, ()>> {
    let env = env.clone();
    batch::push(&PAYLOADS, entry, PAYLOAD_BATCH_MS, move |entries| async move {
        let n = entries.len();
        if let Err(e) = with_db(&env, async |db| crate::observe::payload::write(db, &entries).await.map_err(Into::into)).await {
            worker::console_error!("payload log: {n} entries not written: {e}");
        }
    })
}

fn text_reply(status: u16, body: &str, extra: &[(&str, &str)]) -> web_sys::Response {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    let headers = web_sys::Headers::new().expect("headers");
    let _ = headers.set("content-type", if status == 200 { "text/plain; version=0.0.4; charset=utf-8" } else { "application/json" });
    let _ = headers.set("cache-control", "no-store");
    for (k, v) in extra {
        let _ = headers.set(k, v);
    }
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(body), &init).expect("response")
}

/// `GET /metrics`: 404 until `METRICS_TOKEN` is set, 401 without it.
pub async fn metrics(env: &Env, authorization: Option<String>) -> web_sys::Response {
    let token = env.secret("METRICS_TOKEN").map(|s| s.to_string()).unwrap_or_default();
    if token.is_empty() {
        return text_reply(404, r#"{"error":{"message":"metrics are not enabled: set the METRICS_TOKEN secret","type":"not_found"}}"#, &[]);
    }
    if !metrics::authorized(authorization.as_deref(), &token) {
        return text_reply(401, r#"{"error":{"message":"a valid metrics bearer token is required","type":"unauthorized"}}"#, &[("www-authenticate", "Bearer")]);
    }
    let mut live = metrics::Live::default();
    let db = with_db(env, async |db| {
        let rows = crate::state::db::Db::json(db, metrics::COUNTERS_SQL, &[]).await?;
        let nodes = crate::state::db::Db::json(db, metrics::NODES_SQL, &[]).await?;
        Ok((rows, nodes))
    });
    let (db, streams, view) = futures::join!(db, streams::counts(env), breakers::view(env));
    let (rows, nodes) = db.unwrap_or_else(|e| {
        worker::console_error!("metrics: Postgres unavailable: {e}");
        live.errors.push("postgres");
        (Value::Null, Value::Null)
    });
    match streams {
        Ok(s) => live.streams = s.into_iter().collect(),
        Err(e) => {
            worker::console_warn!("metrics: stream counts unavailable: {e}");
            live.errors.push("streams");
        }
    }
    live.streams.sort();
    match view {
        Ok(v) => {
            let now = js_sys::Date::now() as u64;
            live.open_breakers = v
                .open
                .into_iter()
                .filter(|o| o.until_ms > now)
                .map(|o| match o.key {
                    crate::routing::breaker::Key::Node(n) => (n, None),
                    crate::routing::breaker::Key::Pair(n, m) => (n, Some(m)),
                })
                .collect();
            live.open_breakers.sort();
        }
        Err(e) => {
            worker::console_warn!("metrics: breaker view unavailable: {e}");
            live.errors.push("breakers");
        }
    }
    text_reply(200, &metrics::render(&rows, &nodes, &live), &[])
}

/// The breakers that opened since the last run (one Breakers call, when the budget has it).
pub async fn take_openings(env: &Env, budget: &Budget) -> Vec<crate::routing::breaker::OpenEntry> {
    if !budget.try_take(&[(Kind::DurableObject, 1)]) {
        return Vec::new();
    }
    breakers::take_openings(env).await.unwrap_or_else(|e| {
        worker::console_warn!("cron: breaker openings unavailable: {e}");
        Vec::new()
    })
}
