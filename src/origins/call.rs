//! Every call to a node goes through here: the request (URL, custom headers with sealed ones
//! opened, the API key), the deadline race, the whole-body read, and the judgement of what came
//! back as a typed `Failure`. Inference (`attempt`, `first_event`), mid-stream recovery, model
//! listings, model management, the admin API and the maintenance jobs all use it, so a rule
//! about talking to origins is written once.

use super::failure::{Failure, Scope};
use crate::net::Method;
use crate::net::{ByteStream, OriginReply, Outbound};
use crate::platform::{Origins, Timer};
use crate::routing::breaker::Outcome;
use crate::state::snapshot::{Node, NodeKind};
use futures::future::{select, Either};
use futures::StreamExt;

/// Race a future against a deadline; None when the deadline came first.
pub async fn within<T>(timer: &dyn Timer, ms: u64, fut: impl std::future::Future<Output = T>) -> Option<T> {
    let fut = std::pin::pin!(fut);
    match select(fut, timer.sleep(ms)).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Read a whole (non-streamed) origin body with an idle deadline per chunk and a size cap.
pub async fn read_all(timer: &dyn Timer, mut body: ByteStream, idle_ms: u64, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        match within(timer, idle_ms, body.next()).await {
            None => return Err(format!("the origin sent nothing for {idle_ms} ms")),
            Some(None) => return Ok(out),
            Some(Some(Err(e))) => return Err(e),
            Some(Some(Ok(b))) => {
                out.extend_from_slice(&b);
                if out.len() > max {
                    return Err(format!("the origin's answer exceeds {max} bytes"));
                }
            }
        }
    }
}

/// The node's request for `path` (or an absolute URL, such as a node's health URL): its URL
/// rules, custom headers (sealed ones opened: maintenance reads nodes from Postgres, where they
/// are sealed; snapshot nodes carry them open) and its API key as Bearer.
pub fn request<P: Origins>(p: &P, node: &Node, method: Method, path: &str, body: Option<Vec<u8>>) -> Outbound {
    let api_key = node.api_key_sealed.as_deref().and_then(|s| p.open_secret(s));
    let url = if path.starts_with("http://") || path.starts_with("https://") { path.to_string() } else { super::url(node, path) };
    let opened;
    let node = if node.headers_sealed {
        opened = Node { headers: crate::auth::secrets::open_headers(&node.headers, |s| p.open_secret(s)), headers_sealed: false, ..node.clone() };
        &opened
    } else {
        node
    };
    Outbound { method, url, headers: super::headers(node, api_key.as_deref()), body }
}

/// An inference request to a node: as `request`, but an `anthropic` node gets its key as
/// `x-api-key` and the client's `anthropic-*` headers (`origins::anthropic_headers`).
pub fn inference<P: Origins>(p: &P, node: &Node, url: String, client_headers: &[(String, String)], body: Vec<u8>) -> Outbound {
    let api_key = node.api_key_sealed.as_deref().and_then(|s| p.open_secret(s));
    let headers = if node.kind == NodeKind::Anthropic { super::anthropic_headers(node, api_key.as_deref(), client_headers) } else { super::headers(node, api_key.as_deref()) };
    Outbound { method: Method::POST, url, headers, body: Some(body) }
}

/// Status and whole body (capped at `max`) of a request, all within `timeout_ms`; any status is
/// Ok. For the calls that are not inference (maintenance, admin, model management), whose
/// deadline covers the whole exchange.
pub async fn whole<P: Origins + Timer>(p: &P, out: Outbound, timeout_ms: u64, max: usize) -> Result<(u16, Vec<u8>), String> {
    let fut = async {
        let r = p.fetch(out).await?;
        let status = r.status;
        let mut body = r.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk?);
            if bytes.len() > max {
                return Err(format!("answer larger than {} KiB", max >> 10));
            }
        }
        Ok((status, bytes))
    };
    within(p, timeout_ms, fut).await.unwrap_or_else(|| Err(format!("no answer within {timeout_ms} ms")))
}

/// What an inference attempt's origin answered, once its headers arrived.
pub enum Answer {
    /// 2xx and not an HTML page: the body is unread (the caller streams or reads it).
    Good { reply: OriginReply, remaining_ms: u64 },
    /// An error status; the body (at most 1 MiB, read under what is left of the deadline) is
    /// kept so a same-dialect client can get it word for word.
    Status { failure: Failure, headers: Vec<(String, String)>, body: Vec<u8> },
}

/// Send one inference attempt under the first-byte deadline and judge the answer's head:
/// no answer in time, a refused connection, an error status (with `Retry-After`) and a 200
/// that is an HTML page are failures; a good answer comes back with the deadline left.
pub async fn attempt<P: Origins + Timer>(p: &P, out: Outbound, ttfb_ms: u64) -> Result<Answer, Failure> {
    let sent_at = p.now_ms();
    let reply = match within(p, ttfb_ms, p.fetch(out)).await {
        None => return Err(Failure::Timeout { ms: ttfb_ms }),
        Some(Err(e)) => return Err(Failure::Connect(e)),
        Some(Ok(r)) => r,
    };
    let remaining_ms = ttfb_ms.saturating_sub(p.now_ms() - sent_at).max(1);
    if !(200..300).contains(&reply.status) {
        let status = reply.status;
        let retry_after_ms = super::retry_after_ms(reply.header("retry-after"));
        let headers = reply.headers;
        let body = read_all(p, reply.body, remaining_ms, 1 << 20).await.unwrap_or_default();
        // The API's own JSON error, or a page from something in front of it (see `failure`).
        let api = serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
        let failure = Failure::Status { status, retry_after_ms, message: super::error_text(&body), api };
        return Ok(Answer::Status { failure, headers, body });
    }
    // A 200 that is an HTML page (a proxy's error or login page) is a failed attempt, not an
    // answer: nothing has been sent yet, so another node can still serve it.
    if reply.header("content-type").is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html")) {
        return Err(Failure::Html);
    }
    Ok(Answer::Good { reply, remaining_ms })
}

/// Read a streamed answer up to its first event (failover is possible until then), within
/// `deadline_ms` (absolute). A stream that closes, breaks or stays silent before one is a
/// failure. `max`: past this many bytes without an event the caller's relay judges it.
pub async fn first_event<P: Timer>(p: &P, body: &mut ByteStream, deadline_ms: u64, ttfb_ms: u64, max: usize) -> Result<Vec<u8>, Failure> {
    first_frame(p, body, deadline_ms, ttfb_ms, max, has_event).await
}

/// As `first_event`, for any framing: `complete` says the buffer holds a whole first event
/// (Bedrock's binary event-stream has no lines).
pub async fn first_frame<P: Timer>(p: &P, body: &mut ByteStream, deadline_ms: u64, ttfb_ms: u64, max: usize, complete: fn(&[u8]) -> bool) -> Result<Vec<u8>, Failure> {
    let mut first: Vec<u8> = Vec::new();
    while !complete(&first) {
        let left = deadline_ms.saturating_sub(p.now_ms()).max(1);
        match within(p, left, body.next()).await {
            None => return Err(Failure::NoFirstByte { ms: ttfb_ms }),
            Some(None) => return Err(Failure::Empty),
            Some(Some(Err(e))) => return Err(Failure::StreamBroke(e)),
            Some(Some(Ok(b))) => first.extend_from_slice(&b),
        }
        if first.len() > max {
            break;
        }
    }
    Ok(first)
}

/// The buffer holds a complete line that carries an event: an SSE `data:` line or, for NDJSON,
/// any non-blank line (SSE comments, `event:` names and keep-alive blank lines are not events).
pub fn has_event(buf: &[u8]) -> bool {
    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else { return false };
    buf[..end].split(|b| *b == b'\n').any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let t = line.trim_ascii();
        !t.is_empty() && !t.starts_with(b":") && !t.starts_with(b"event:") && !t.starts_with(b"id:") && !t.starts_with(b"retry:")
    })
}

/// What a failed attempt tells the circuit breakers (the one mapping, for the first attempts
/// and for mid-stream recovery alike).
pub fn report(f: &Failure) -> (Scope, Outcome) {
    match f.scope() {
        Scope::Nothing => (Scope::Nothing, Outcome::Neutral),
        s => (s, Outcome::Failure { reason: f.to_string(), retry_after_ms: f.retry_after_ms() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::{Answer as Scripted, Chunk, FakePlatform};
    use futures::executor::block_on;

    fn out() -> Outbound {
        Outbound { method: Method::POST, url: "http://n/v1/chat/completions".into(), headers: vec![], body: Some(b"{}".to_vec()) }
    }

    #[test]
    fn the_head_of_an_answer_is_judged_once() {
        let p = FakePlatform::new(|_| Scripted::Hang);
        assert!(matches!(block_on(attempt(&p, out(), 50)), Err(Failure::Timeout { ms: 50 })));
        let p = FakePlatform::new(|_| Scripted::Refuse("reset".into()));
        assert!(matches!(block_on(attempt(&p, out(), 50)), Err(Failure::Connect(e)) if e == "reset"));
        let p = FakePlatform::new(|_| Scripted::raw(200, "text/html; charset=utf-8", b"<html>login</html>"));
        assert!(matches!(block_on(attempt(&p, out(), 50)), Err(Failure::Html)));
        let p = FakePlatform::new(|_| Scripted::json(429, &serde_json::json!({"error": {"message": "slow down"}})).with_header("retry-after", "3"));
        match block_on(attempt(&p, out(), 50)) {
            Ok(Answer::Status { failure: Failure::Status { status: 429, retry_after_ms: Some(3000), message, api: true }, body, .. }) => {
                assert_eq!(message, "slow down");
                assert!(!body.is_empty());
            }
            _ => panic!("a 429 with its retry-after"),
        }
        let p = FakePlatform::new(|_| Scripted::raw(503, "text/html", b"<html>503</html>"));
        assert!(matches!(block_on(attempt(&p, out(), 50)), Ok(Answer::Status { failure: Failure::Status { status: 503, api: false, .. }, .. })));
    }

    #[test]
    fn the_first_event_decides_whether_a_stream_began() {
        let stream = |chunks: Vec<Chunk>| -> Result<Vec<u8>, Failure> {
            let p = FakePlatform::new(move |_| Scripted::stream("text/event-stream", chunks.clone()));
            let Ok(Answer::Good { mut reply, .. }) = block_on(attempt(&p, out(), 100)) else { panic!("a good head") };
            block_on(first_event(&p, &mut reply.body, p.now_ms() + 100, 100, 1 << 20))
        };
        assert_eq!(stream(vec![Chunk::Bytes(b": ping\n\nda".to_vec()), Chunk::Bytes(b"ta: {}\n\n".to_vec())]).unwrap(), b": ping\n\ndata: {}\n\n");
        assert!(matches!(stream(vec![]), Err(Failure::Empty)));
        assert!(matches!(stream(vec![Chunk::Bytes(b": ping\n\n".to_vec()), Chunk::Hang]), Err(Failure::NoFirstByte { ms: 100 })));
        assert!(matches!(stream(vec![Chunk::Break("reset".into())]), Err(Failure::StreamBroke(_))));
    }

    #[test]
    fn events_are_data_lines_not_comments_or_names() {
        assert!(!has_event(b"data: {}"));
        assert!(has_event(b"data: {}\n"));
        assert!(!has_event(b": keep-alive\n\nevent: x\n"));
        assert!(has_event(b"{\"done\":false}\n"));
    }
}
