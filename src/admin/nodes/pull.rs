//! `POST /admin/nodes/{id}/pull` and `/admin/nodes/pull-all`: Ollama `/api/pull` progress relayed
//! as NDJSON. A failure before the first line is an HTTP error; after it, the stream ends with an
//! `{"error": ...}` line. A stream that ends without the node's `success` is never passed off as
//! one.

use super::super::kit::Ctx;
use super::rows::{ollama_node, rows};
use crate::net::Method;
use crate::error::GatewayError;
use crate::maintenance;
use crate::net::{Body, ByteStream, Reply};
use crate::origins::call;
use crate::platform::Platform;
use crate::state::db::Db;
use crate::state::snapshot::{Node, NodeKind};
use crate::platform::Timer;
use crate::stream::progress::PullProgress;
use crate::stream::relay;
use std::rc::Rc;
use futures::{stream, StreamExt};
use serde_json::{json, Value};

/// Time for a node to start answering a pull (the transfer itself may take much longer).
const START_TIMEOUT_MS: u64 = 30_000;
/// An error answer is read this far for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;

fn model_name(ctx_input: &super::super::input::Input) -> Result<String, GatewayError> {
    ctx_input.only(&["model"])?;
    let model = ctx_input.req_str("model")?;
    if model.len() > 256 || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(GatewayError::bad_field("model", "'model' must be a model name such as llama3:latest (no spaces, at most 256 characters)"));
    }
    Ok(model)
}

pub async fn pull_one<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let model = model_name(&ctx.input()?)?;
    let node = ollama_node(ctx, id).await?;
    let body = start(ctx.platform, &node, &model).await?;
    ctx.audit("node.pull", "node", Some(&node.id.to_string()), &json!({"model": model})).await?;
    Ok(ndjson(progress(body, None)))
}

pub async fn pull_all<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let model = model_name(&ctx.input()?)?;
    let nodes: Vec<Node> = rows(ctx.db, None).await?.into_iter().filter(|n| n.active && n.kind == NodeKind::Ollama).collect();
    if nodes.is_empty() {
        return Err(GatewayError::bad_request("there is no active Ollama node to pull to"));
    }
    // All nodes pull at once; each line says which node it is about.
    let started = futures::future::join_all(nodes.iter().map(|n| start(ctx.platform, n, &model))).await;
    let streams: Vec<ByteStream> = nodes
        .iter()
        .zip(started)
        .map(|(n, s)| match s {
            Ok(body) => progress(body, Some(n.name.clone())),
            Err(e) => {
                let failed = line(&json!({"error": e.message(), "node": n.name}));
                stream::once(async move { Ok(failed) }).boxed_local()
            }
        })
        .collect();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    ctx.audit("node.pull_all", "node", None, &json!({"model": model, "nodes": names})).await?;
    Ok(ndjson(stream::select_all(streams).boxed_local()))
}

fn ndjson(body: ByteStream) -> Reply {
    let mut r = Reply { status: 200, headers: Vec::new(), body: Body::Stream(body) };
    r.set_header("content-type", "application/x-ndjson");
    // Nothing between the Worker and the dashboard may buffer progress.
    r.set_header("content-encoding", "identity");
    r.set_header("cache-control", "no-store");
    r
}

/// Ask the node to pull; Ok once it answered 2xx (its body is the progress stream).
async fn start<P: Platform>(p: &P, node: &Node, model: &str) -> Result<ByteStream, GatewayError> {
    let out = maintenance::outbound(p, node, Method::POST, "/api/pull", Some(&json!({"model": model, "stream": true})));
    let name = node.name.clone();
    let fut = async {
        let r = p.fetch(out).await.map_err(|e| GatewayError::UpstreamUnavailable(format!("node '{name}' is unreachable: {e}")))?;
        if (200..300).contains(&r.status) {
            return Ok(r.body);
        }
        let status = r.status;
        let mut body = r.body;
        let mut bytes = Vec::new();
        while let Some(Ok(chunk)) = body.next().await {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_ERROR_BODY {
                break;
            }
        }
        Err(GatewayError::Upstream { status: 502, message: format!("node '{name}' refused the pull: HTTP {status}: {}", crate::origins::error_text(&bytes)) })
    };
    call::within(p, START_TIMEOUT_MS, fut).await.unwrap_or_else(|| Err(GatewayError::UpstreamTimeout(format!("node '{}' did not start the pull within {START_TIMEOUT_MS} ms", node.name))))
}

fn line(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The pull's own clock: none. A layer can take minutes to verify without a line, so the
/// admin pulls end only when the node ends them (the dashboard shows the progress it gets).
struct NoDeadline;

impl Timer for NoDeadline {
    fn sleep(&self, _: u64) -> futures::future::LocalBoxFuture<'static, ()> {
        Box::pin(futures::future::pending())
    }
    fn now_ms(&self) -> u64 {
        0
    }
}

/// Relay a node's `/api/pull` body line by line (`stream::progress`, tagging each line with
/// `node` when given).
pub fn progress(body: ByteStream, node: Option<String>) -> ByteStream {
    relay::relay(body, None, Vec::new(), Box::new(PullProgress::new(node)), Rc::new(NoDeadline), u64::MAX, Box::new(|_| {})).into_stream()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn body(chunks: Vec<Result<&'static str, &'static str>>) -> ByteStream {
        stream::iter(chunks.into_iter().map(|c| c.map(|s| s.as_bytes().to_vec()).map_err(String::from))).boxed_local()
    }

    fn lines(s: ByteStream) -> Vec<Value> {
        let bytes: Vec<u8> = block_on(s.map(|c| c.unwrap()).concat());
        String::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn progress_passes_through_until_success() {
        let out = lines(progress(
            body(vec![
                Ok("{\"status\":\"pulling manifest\"}\n{\"status\":\"pulling a\",\"digest\":\"sha256:a\",\"total\":10,"),
                Ok("\"completed\":5}\n{\"status\":\"success\"}\n"),
                Ok("{\"status\":\"ignored\"}\n"),
            ]),
            None,
        ));
        assert_eq!(out.len(), 3);
        assert_eq!(out[1]["completed"], 5);
        assert_eq!(out[2], json!({"status": "success"}));
    }

    #[test]
    fn a_cut_stream_ends_with_an_error_not_a_success() {
        let out = lines(progress(body(vec![Ok("{\"status\":\"pulling manifest\"}\n"), Err("connection reset")]), Some("a".into())));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["node"], "a");
        assert!(out[1]["error"].as_str().unwrap().contains("connection reset"));
        assert_eq!(out[1]["node"], "a");
        let out = lines(progress(body(vec![Ok("{\"status\":\"pulling manifest\"}\n")]), None));
        assert!(out.last().unwrap()["error"].as_str().unwrap().contains("without reporting success"));
        assert!(out.iter().all(|l| l["status"] != "success"));
    }

    #[test]
    fn origin_errors_and_garbage_end_the_stream() {
        let out = lines(progress(body(vec![Ok("{\"status\":\"pulling manifest\"}\n{\"error\":\"pull model manifest: file does not exist\"}\n{\"status\":\"success\"}\n")]), None));
        assert_eq!(out.len(), 2);
        assert_eq!(out[1]["error"], "pull model manifest: file does not exist");
        let out = lines(progress(body(vec![Ok("<html>\n")]), None));
        assert_eq!(out.len(), 1);
        assert!(out[0]["error"].is_string());
        // The last line may come without its newline.
        let out = lines(progress(body(vec![Ok("{\"status\":\"success\"}")]), None));
        assert_eq!(out, vec![json!({"status": "success"})]);
    }
}
