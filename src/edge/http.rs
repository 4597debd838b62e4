//! The runtime's Request -> net::Inbound, net::Reply -> the runtime's Response, each exactly once.
//! Straight on the web_sys types: workers-rs's wrappers read `cf`, re-parse the URL and set
//! response fields we never use, which is a measurable share of a request's CPU.

use crate::error::GatewayError;
use crate::net::{Body, Inbound, Reply};
use futures::StreamExt;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::web_sys;

/// The request method as sent (upper case; unknown methods are kept, not mapped to GET, which
/// would serve them as reads).
pub fn method(req: &web_sys::Request) -> String {
    req.method().to_ascii_uppercase()
}

/// Path and query of a URL as the runtime serialised it (already normalised: no dot segments,
/// percent-encoding as sent), without parsing it again.
pub fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = match url[after_scheme..].find('/') {
        Some(i) => &url[after_scheme + i..],
        None => "/",
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    }
}

fn js_error(e: JsValue) -> String {
    worker::Error::from(e).to_string()
}

thread_local! {
    static IP_HEADER: std::cell::OnceCell<Option<String>> = const { std::cell::OnceCell::new() };
}

/// The request header holding the client's address, as the deployment vouches for it:
/// `CLIENT_IP_HEADER` (wrangler.toml sets `cf-connecting-ip`, which Cloudflare always sets and
/// overwrites; a runtime elsewhere passes a client's own value through, so there it must name
/// the header the operator's proxy sets, or be `none`). Absent or `none`: no header is trusted.
/// Read once per isolate (vars change only with a deployment).
pub fn client_ip_header(env: &worker::Env) -> Option<String> {
    IP_HEADER.with(|c| {
        c.get_or_init(|| {
            let v = env.var("CLIENT_IP_HEADER").map(|v| v.to_string()).unwrap_or_default().trim().to_ascii_lowercase();
            (!v.is_empty() && v != "none").then_some(v)
        })
        .clone()
    })
}

/// Read a request with its body capped at `max` bytes (413 before reading when the
/// Content-Length already says too much). `ip_header`: see `client_ip_header`.
pub async fn inbound(req: web_sys::Request, path: &str, query: &str, max: usize, ip_header: Option<&str>) -> Result<Inbound, GatewayError> {
    let raw_headers = req.headers();
    let declared = raw_headers.get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(GatewayError::PayloadTooLarge { limit: max });
    }
    let client_ip = ip_header.and_then(|h| raw_headers.get(h).ok().flatten()).and_then(|v| crate::net::client_address(&v));
    let headers: Vec<(String, String)> = worker::Headers(raw_headers).entries().collect();
    let method = method(&req);
    let unreadable = |e: String| GatewayError::bad_request(format!("could not read the request body: {e}"));
    let mut body = Vec::new();
    if method != "GET" && method != "HEAD" && declared.is_some() {
        // Size known and within the cap: one arrayBuffer read, not a reader with a promise per
        // chunk and a lock to release.
        let buf = JsFuture::from(req.array_buffer().map_err(|e| unreadable(js_error(e)))?).await.map_err(|e| unreadable(js_error(e)))?;
        body = js_sys::Uint8Array::new(&buf).to_vec();
        if body.len() > max {
            return Err(GatewayError::PayloadTooLarge { limit: max });
        }
    } else if method != "GET" && method != "HEAD" {
        if let Some(raw) = req.body() {
            let mut stream = worker::Response::from_body(worker::ResponseBody::Stream(raw)).and_then(|mut r| r.stream()).map_err(|e| unreadable(e.to_string()))?;
            while let Some(chunk) = stream.next().await {
                body.extend_from_slice(&chunk.map_err(|e| unreadable(e.to_string()))?);
                if body.len() > max {
                    return Err(GatewayError::PayloadTooLarge { limit: max });
                }
            }
        }
    }
    // The runtime only passes valid method tokens; anything else is refused, never read as GET.
    let method = crate::net::Method::from_bytes(method.as_bytes()).map_err(|_| GatewayError::bad_request("invalid request method"))?;
    Ok(Inbound { method, path: path.to_string(), query: query.to_string(), headers, body, client_ip })
}

/// `ctx`: the fetch event's JS context, for relayed streams (their pump runs under waitUntil).
pub fn response(reply: Reply, ctx: &JsValue) -> worker::Result<web_sys::Response> {
    let headers = web_sys::Headers::new()?;
    for (k, v) in &reply.headers {
        // A value we cannot set is dropped rather than failing the whole response.
        let _ = headers.append(k, v);
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    Ok(match reply.body {
        Body::Empty => web_sys::Response::new_with_opt_str_and_init(None, &init)?,
        Body::Full(mut bytes) => web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut bytes), &init)?,
        Body::Stream(s) => from_stream(s, &init)?,
        Body::Relay(r) => match super::pump::body(r, ctx) {
            Ok(stream) => web_sys::Response::new_with_opt_readable_stream_and_init(Some(&stream), &init)?,
            Err(r) => from_stream(r.into_stream(), &init)?,
        },
    })
}

/// A Rust stream as a response body (a pull-based JS stream; relayed streams use the pump).
fn from_stream(s: crate::net::ByteStream, init: &web_sys::ResponseInit) -> worker::Result<web_sys::Response> {
    let raw: worker::Response = worker::ResponseBuilder::new().from_stream(s.map(|r| r.map_err(worker::Error::RustError)))?;
    match raw.body() {
        worker::ResponseBody::Stream(stream) => Ok(web_sys::Response::new_with_opt_readable_stream_and_init(Some(stream), init)?),
        _ => Ok(web_sys::Response::new_with_opt_str_and_init(None, init)?),
    }
}
