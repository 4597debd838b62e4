//! worker::Request <-> net::Inbound, net::Reply -> worker::Response, each exactly once.

use crate::error::GatewayError;
use crate::net::{Body, Inbound, Reply};
use futures::StreamExt;
use wasm_bindgen::JsValue;
use worker::{Headers, Request, Response, ResponseBuilder};

/// The request method as sent. `Request::method()` maps every method it does not know (QUERY,
/// PROPFIND, ...) to GET, which would serve them as reads.
pub fn method(req: &Request) -> String {
    req.inner().method().to_ascii_uppercase()
}

/// Read a request with its body capped at `max` bytes (413 before reading when the
/// Content-Length already says too much).
pub async fn inbound(mut req: Request, max: usize) -> Result<Inbound, GatewayError> {
    let url = req.url().map_err(|e| GatewayError::bad_request(format!("bad URL: {e}")))?;
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(GatewayError::PayloadTooLarge { limit: max });
    }
    let client_ip = req.headers().get("cf-connecting-ip").ok().flatten();
    let method = method(&req);
    let mut body = Vec::new();
    if method != "GET" && method != "HEAD" && declared.is_some() {
        // Size known and within the cap: one arrayBuffer read, not a reader with a promise per
        // chunk and a lock to release.
        body = req.bytes().await.map_err(|e| GatewayError::bad_request(format!("could not read the request body: {e}")))?;
        if body.len() > max {
            return Err(GatewayError::PayloadTooLarge { limit: max });
        }
    } else if method != "GET" && method != "HEAD" {
        if let Ok(mut stream) = req.stream() {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| GatewayError::bad_request(format!("could not read the request body: {e}")))?;
                body.extend_from_slice(&chunk);
                if body.len() > max {
                    return Err(GatewayError::PayloadTooLarge { limit: max });
                }
            }
        }
    }
    Ok(Inbound { method, path: url.path().to_string(), query: url.query().unwrap_or("").to_string(), headers, body, client_ip })
}

/// `ctx`: the fetch event's JS context, for relayed streams (their pump runs under waitUntil).
pub fn response(reply: Reply, ctx: &JsValue) -> worker::Result<Response> {
    let headers = Headers::new();
    for (k, v) in &reply.headers {
        // A value we cannot set is dropped rather than failing the whole response.
        let _ = headers.append(k, v);
    }
    let builder = ResponseBuilder::new().with_status(reply.status).with_headers(headers);
    match reply.body {
        Body::Empty => Ok(builder.empty()),
        // Not `from_bytes`: it overwrites Content-Type with application/octet-stream.
        Body::Full(bytes) => Ok(builder.fixed(bytes)),
        Body::Stream(s) => builder.from_stream(s.map(|r| r.map_err(worker::Error::RustError))),
        Body::Relay(r) => match super::pump::body(r, ctx) {
            Ok(stream) => Ok(builder.stream(stream)),
            Err(r) => builder.from_stream(r.into_stream().map(|r| r.map_err(worker::Error::RustError))),
        },
    }
}
