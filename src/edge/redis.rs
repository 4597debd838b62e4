//! Upstash Redis at the edge: the core's REST client (`crate::redis`) over `worker::Fetch`, and
//! its configuration from the Worker's environment. Every call races a deadline: an
//! unreachable or stalled Redis costs at most `redis.timeout_ms`, then the request is aborted
//! and the call fails with `Error::Unreachable`.

use crate::redis::{Client, Config, Encoding, Transport};
use crate::redis::protocol::{HttpRequest, HttpResponse};
use futures::future::{select, Either};
use std::rc::Rc;
use std::time::Duration;
use worker::{AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit};

/// Before a snapshot (and so `redis.timeout_ms`) is known: its default.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// Keys are namespaced so one Redis can serve several deployments (and the tests' gateways).
pub const DEFAULT_PREFIX: &str = "maestro:";

pub struct FetchTransport {
    timeout_ms: u64,
}

impl Transport for FetchTransport {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, String> {
        let headers = Headers::new();
        for (k, v) in &req.headers {
            headers.set(k, v).map_err(|e| format!("bad header {k}: {e}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(req.body.into()));
        let request = Request::new_with_init(&req.url, &init).map_err(|e| format!("bad UPSTASH_REDIS_REST_URL {}: {e}", req.url))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let call = Box::pin(async move {
            let mut resp = Fetch::Request(request).send_with_signal(&signal).await.map_err(|e| e.to_string())?;
            let status = resp.status_code();
            let body = resp.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(HttpResponse { status, body })
        });
        let deadline = Box::pin(Delay::from(Duration::from_millis(self.timeout_ms)));
        match select(call, deadline).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => {
                // Free the connection; a late answer must not be read by anyone.
                controller.abort();
                Err(format!("no answer within {} ms (redis.timeout_ms)", self.timeout_ms))
            }
        }
    }
}

/// A configured client and the key prefix. Cheap to clone (shared client).
#[derive(Clone)]
pub struct Redis {
    pub client: Rc<Client<FetchTransport>>,
    pub prefix: String,
}

fn text(env: &Env, name: &str) -> Option<String> {
    // A var or a secret: the URL is usually a var, the token a secret; either works for both.
    let v = env.var(name).map(|v| v.to_string()).or_else(|_| env.secret(name).map(|s| s.to_string())).ok()?;
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The client, when Redis is configured. `UPSTASH_REDIS_PREFIX` overrides the key prefix.
pub fn from_env(env: &Env, timeout_ms: u64) -> Option<Redis> {
    let url = text(env, "UPSTASH_REDIS_REST_URL")?;
    let token = text(env, "UPSTASH_REDIS_REST_TOKEN")?;
    let prefix = env.var("UPSTASH_REDIS_PREFIX").map(|v| v.to_string()).unwrap_or_else(|_| DEFAULT_PREFIX.to_string());
    // base64: values come back byte-exact, as with the official client.
    let config = Config { url, token, encoding: Encoding::Base64 };
    Some(Redis { client: Rc::new(Client::new(config, FetchTransport { timeout_ms: timeout_ms.max(1) })), prefix })
}

/// Why a backend set to redis cannot use it.
pub const NOT_CONFIGURED_DETAIL: &str = "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are not both set";
pub const NOT_CONFIGURED: &str = "backend.limits = redis, but UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are not both set";
