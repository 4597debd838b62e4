//! The request pipeline natively: `app::handle` against the shared fake platform
//! (`platform::fake`) and a scripted origin with the modes of `tests/e2e/fake-origin.mjs`.
//! - every (client dialect × node kind) row of the leg table reaches the right upstream API
//!   and answers in the client's dialect, whole and streamed;
//! - failover happens before the first byte (error status, 429 with `Retry-After`, HTML, a
//!   hang before the headers or before the first event, an empty stream, a body that is not
//!   JSON) and never after it (a stream broken mid-way ends in-band, on the same node);
//! - usage is settled exactly once: on success, on error, and when the client drops the stream.

use futures::executor::block_on;
use futures::StreamExt;
use maestro_edge::app;
use maestro_edge::auth::token;
use maestro_edge::net::{Body, Inbound, Outbound, Reply};
use maestro_edge::origins::failure::Scope;
use maestro_edge::platform::fake::{Answer, Chunk, FakePlatform, Limits};
use maestro_edge::routing::breaker::Outcome;
use maestro_edge::state::snapshot::{Health, Node, NodeKind, NodeModel, Snapshot, User};
use serde_json::{json, Value};
use std::rc::Rc;

const SECRET: &[u8] = b"test-secret";
const MODEL: &str = "m:latest";

fn token() -> String {
    token::issue(SECRET, token::USER_TYP, "alice", "jti-alice", 0, None).expect("a token")
}

fn node(id: i64, kind: NodeKind) -> Node {
    Node {
        id,
        name: format!("n{id}"),
        kind,
        base_url: format!("http://n{id}.test"),
        priority: id as i32,
        health: Health::Healthy,
        active: true,
        models: vec![NodeModel { name: MODEL.into(), available: true, ..Default::default() }],
        ..Default::default()
    }
}

fn snapshot(nodes: Vec<Node>, settings: &[(&str, Value)]) -> Rc<Snapshot> {
    let user = User { id: 7, username: "alice".into(), token_hash: token::hash_jti("jti-alice"), active: true, all_models: true, ..Default::default() };
    let raw = settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let mut s = Snapshot::default();
    s.nodes = nodes;
    s.users = vec![user];
    s.settings_raw = raw;
    s.settings = maestro_edge::settings::Settings::from_raw(&s.settings_raw);
    Rc::new(s.indexed())
}

fn request(path: &str, body: Value) -> Inbound {
    Inbound {
        method: maestro_edge::net::Method::POST,
        path: path.into(),
        headers: vec![("authorization".into(), format!("Bearer {}", token())), ("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&body).unwrap(),
        ..Default::default()
    }
}

fn run(p: &Rc<FakePlatform>, snap: &Rc<Snapshot>, req: Inbound) -> Reply {
    block_on(app::handle(p.clone(), snap.clone(), req))
}

/// The whole body of a reply (a relayed stream is driven to its end).
fn body(reply: Reply) -> Vec<u8> {
    match reply.body {
        Body::Empty => Vec::new(),
        Body::Full(b) => b,
        Body::Stream(s) => block_on(s.map(|c| c.unwrap_or_default()).concat()),
        Body::Relay(r) => block_on(r.into_stream().map(|c| c.unwrap_or_default()).concat()),
    }
}

fn text(reply: Reply) -> String {
    String::from_utf8(body(reply)).expect("UTF-8")
}

// ---- the origin's answers, per upstream API (what fake-origin.mjs sends) ----

fn path_of(out: &Outbound) -> String {
    let rest = out.url.split_once(".test").map(|(_, r)| r).unwrap_or(&out.url);
    rest.split('?').next().unwrap_or(rest).to_string()
}

fn sent_body(out: &Outbound) -> Value {
    serde_json::from_slice(out.body.as_deref().unwrap_or(b"null")).unwrap_or(Value::Null)
}

/// A well-behaved origin of any kind: answers each API at its path, streamed when asked.
fn good(out: &Outbound) -> Answer {
    let path = path_of(out);
    let b = sent_body(out);
    let stream = b["stream"].as_bool().unwrap_or(false);
    let model = b["model"].as_str().unwrap_or("?").to_string();
    match path.as_str() {
        "/api/chat" | "/api/generate" if stream => {
            let piece = |t: &str| if path == "/api/chat" { json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": t}, "done": false}) } else { json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "response": t, "done": false}) };
            let done = json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "done": true, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2});
            Answer::stream("application/x-ndjson", [piece("hel"), piece("lo"), done].iter().map(|v| Chunk::Bytes(format!("{v}\n").into_bytes())).collect())
        }
        "/api/chat" => Answer::json(200, &json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": "hello"}, "done": true, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2})),
        "/api/generate" => Answer::json(200, &json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "response": "hello", "done": true, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2})),
        "/api/embed" => Answer::json(200, &json!({"model": model, "embeddings": [[0.1, 0.2, 0.3]], "prompt_eval_count": 4})),
        "/api/embeddings" => Answer::json(200, &json!({"embedding": [0.1, 0.2, 0.3]})),
        "/v1/chat/completions" | "/v1/completions" if stream => {
            let chat = path == "/v1/chat/completions";
            let piece = |t: &str| if chat { json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]}) } else { json!({"id": "c1", "object": "text_completion", "created": 1, "model": model, "choices": [{"index": 0, "text": t, "finish_reason": null}]}) };
            let last = if chat { json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) } else { json!({"id": "c1", "object": "text_completion", "created": 1, "model": model, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}) };
            let usage = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}});
            let mut chunks: Vec<Chunk> = [piece("hel"), piece("lo"), last, usage].iter().map(|v| Chunk::Bytes(format!("data: {v}\n\n").into_bytes())).collect();
            chunks.push(Chunk::Bytes(b"data: [DONE]\n\n".to_vec()));
            Answer::stream("text/event-stream", chunks)
        }
        "/v1/chat/completions" => Answer::json(200, &json!({"id": "cmpl-1", "object": "chat.completion", "created": 1, "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})),
        "/v1/completions" => Answer::json(200, &json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": model, "choices": [{"index": 0, "text": "hello", "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})),
        "/v1/embeddings" => Answer::json(200, &json!({"object": "list", "model": model, "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}], "usage": {"prompt_tokens": 4, "total_tokens": 4}})),
        "/v1/messages" if stream => {
            let ev = |name: &str, v: Value| Chunk::Bytes(format!("event: {name}\ndata: {v}\n\n").into_bytes());
            Answer::stream(
                "text/event-stream",
                vec![
                    ev("message_start", json!({"type": "message_start", "message": {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "usage": {"input_tokens": 3, "output_tokens": 1}}})),
                    ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
                    ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hel"}})),
                    ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}})),
                    ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
                    ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 2}})),
                    ev("message_stop", json!({"type": "message_stop"})),
                ],
            )
        }
        "/v1/messages" => Answer::json(200, &json!({"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 2}})),
        other => Answer::json(404, &json!({"error": format!("no route {other}")})),
    }
}

// ---- one case per row of the leg table ----

struct Row {
    path: &'static str,
    kind: NodeKind,
    /// The upstream API the leg table picks.
    upstream: &'static str,
    body: Value,
    /// Something only a correct answer in the client's dialect contains.
    answer: &'static [&'static str],
}

fn chat(extra: Value) -> Value {
    let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    b
}

fn rows() -> Vec<Row> {
    use NodeKind::*;
    let ollama_chat = || chat(json!({"stream": false}));
    let generate = || json!({"model": "m", "prompt": "hi", "stream": false});
    let messages = || chat(json!({"max_tokens": 10}));
    let responses = || json!({"model": "m", "input": "hi"});
    let ollama_chat_answer: &[&str] = &[r#""message":{"#, r#""content":"hello""#, r#""done":true"#];
    let generate_answer: &[&str] = &[r#""response":"hello""#, r#""done":true"#];
    let openai_answer: &[&str] = &[r#""object":"chat.completion""#, r#""content":"hello""#];
    let anthropic_answer: &[&str] = &[r#""type":"message""#, r#""text":"hello""#];
    let responses_answer: &[&str] = &[r#""object":"response""#, "hello"];
    vec![
        Row { path: "/api/chat", kind: Ollama, upstream: "/api/chat", body: ollama_chat(), answer: ollama_chat_answer },
        Row { path: "/api/chat", kind: Openai, upstream: "/v1/chat/completions", body: ollama_chat(), answer: ollama_chat_answer },
        Row { path: "/api/chat", kind: Anthropic, upstream: "/v1/messages", body: ollama_chat(), answer: ollama_chat_answer },
        Row { path: "/api/generate", kind: Ollama, upstream: "/api/generate", body: generate(), answer: generate_answer },
        Row { path: "/api/generate", kind: Openai, upstream: "/v1/chat/completions", body: generate(), answer: generate_answer },
        Row { path: "/api/generate", kind: Anthropic, upstream: "/v1/messages", body: generate(), answer: generate_answer },
        Row { path: "/api/embed", kind: Ollama, upstream: "/api/embed", body: json!({"model": "m", "input": "hi"}), answer: &[r#""embeddings":[[0.1"#] },
        Row { path: "/api/embed", kind: Openai, upstream: "/v1/embeddings", body: json!({"model": "m", "input": "hi"}), answer: &[r#""embeddings":[[0.1"#] },
        Row { path: "/api/embeddings", kind: Ollama, upstream: "/api/embeddings", body: json!({"model": "m", "prompt": "hi"}), answer: &[r#""embedding":[0.1"#] },
        Row { path: "/api/embeddings", kind: Openai, upstream: "/v1/embeddings", body: json!({"model": "m", "prompt": "hi"}), answer: &[r#""embedding":[0.1"#] },
        Row { path: "/v1/chat/completions", kind: Ollama, upstream: "/v1/chat/completions", body: chat(json!({})), answer: openai_answer },
        Row { path: "/v1/chat/completions", kind: Openai, upstream: "/v1/chat/completions", body: chat(json!({})), answer: openai_answer },
        Row { path: "/v1/chat/completions", kind: Anthropic, upstream: "/v1/messages", body: chat(json!({})), answer: openai_answer },
        Row { path: "/v1/completions", kind: Ollama, upstream: "/v1/completions", body: json!({"model": "m", "prompt": "hi"}), answer: &[r#""text":"hello""#] },
        Row { path: "/v1/completions", kind: Openai, upstream: "/v1/completions", body: json!({"model": "m", "prompt": "hi"}), answer: &[r#""text":"hello""#] },
        Row { path: "/v1/embeddings", kind: Ollama, upstream: "/v1/embeddings", body: json!({"model": "m", "input": "hi"}), answer: &[r#""embedding":[0.1"#] },
        Row { path: "/v1/embeddings", kind: Openai, upstream: "/v1/embeddings", body: json!({"model": "m", "input": "hi"}), answer: &[r#""embedding":[0.1"#] },
        Row { path: "/v1/messages", kind: Anthropic, upstream: "/v1/messages", body: messages(), answer: anthropic_answer },
        Row { path: "/v1/messages", kind: Openai, upstream: "/v1/chat/completions", body: messages(), answer: anthropic_answer },
        Row { path: "/v1/messages", kind: Ollama, upstream: "/api/chat", body: messages(), answer: anthropic_answer },
        Row { path: "/v1/responses", kind: Anthropic, upstream: "/v1/messages", body: responses(), answer: responses_answer },
        Row { path: "/v1/responses", kind: Openai, upstream: "/v1/chat/completions", body: responses(), answer: responses_answer },
        Row { path: "/v1/responses", kind: Ollama, upstream: "/api/chat", body: responses(), answer: responses_answer },
    ]
}

/// Usage was settled once, by the node that answered, with this status.
fn settled_once(p: &FakePlatform, status: u16, node: Option<i64>) {
    let records = p.records.borrow();
    assert_eq!(records.len(), 1, "exactly one usage record: {records:?}");
    assert_eq!(records[0].status, status, "{records:?}");
    assert_eq!(records[0].node_id, node, "{records:?}");
}

#[test]
fn every_leg_answers_in_the_clients_dialect_whole() {
    for row in rows() {
        let p = Rc::new(FakePlatform::new(good));
        let snap = snapshot(vec![node(1, row.kind)], &[]);
        let reply = run(&p, &snap, request(row.path, row.body.clone()));
        let status = reply.status;
        let out = text(reply);
        let what = format!("{} on {:?}", row.path, row.kind);
        assert_eq!(status, 200, "{what}: {out}");
        assert_eq!(p.fetches.borrow().iter().map(path_of).collect::<Vec<_>>(), vec![row.upstream.to_string()], "{what}");
        assert_eq!(sent_body(&p.fetches.borrow()[0])["model"], MODEL, "{what}: the real model name goes upstream");
        let compact = out.replace(": ", ":").replace(", ", ",");
        for want in row.answer {
            assert!(compact.contains(want), "{what}: {want} in {out}");
        }
        assert!(!compact.contains(MODEL) || row.path.starts_with("/api/embeddings"), "{what}: the client sees its own model name, not the real one: {out}");
        settled_once(&p, 200, Some(1));
        assert!(p.records.borrow()[0].reached_origin);
    }
}

#[test]
fn every_streaming_leg_streams_in_the_clients_dialect() {
    for row in rows().into_iter().filter(|r| !r.path.contains("embed")) {
        let mut body = row.body.clone();
        body["stream"] = json!(true);
        let p = Rc::new(FakePlatform::new(good));
        let snap = snapshot(vec![node(1, row.kind)], &[]);
        let reply = run(&p, &snap, request(row.path, body));
        let what = format!("{} on {:?} (stream)", row.path, row.kind);
        assert_eq!(reply.status, 200, "{what}");
        let ct = reply.header("content-type").unwrap_or("").to_string();
        let out = text(reply);
        assert_eq!(ct, if row.path.starts_with("/api/") { "application/x-ndjson" } else { "text/event-stream" }, "{what}");
        assert_eq!(p.fetches.borrow().iter().map(path_of).collect::<Vec<_>>(), vec![row.upstream.to_string()], "{what}");
        let pieces = out.matches("hel").count() + out.matches("lo").count();
        assert!(pieces >= 2 || out.contains("hello"), "{what}: the text arrives: {out}");
        assert!(!out.contains("\"error\":{") && !out.contains("\"error\":\"") && !out.contains("response.failed"), "{what}: no in-band error: {out}");
        match row.path {
            "/api/chat" | "/api/generate" => assert!(out.lines().last().is_some_and(|l| l.contains("\"done\":true")), "{what}: {out}"),
            "/v1/messages" => assert!(out.contains("event: message_stop"), "{what}: {out}"),
            "/v1/responses" => assert!(out.contains("response.completed"), "{what}: {out}"),
            _ => assert!(out.trim_end().ends_with("data: [DONE]"), "{what}: {out}"),
        }
        settled_once(&p, 200, Some(1));
        let streams = p.streams.borrow();
        assert_eq!(*streams, vec![(1, true), (1, false)], "{what}: the stream lease is taken and given back");
    }
}

// ---- failover before the first byte, never after ----

fn two_nodes() -> Rc<Snapshot> {
    snapshot(vec![node(1, NodeKind::Openai), node(2, NodeKind::Openai)], &[])
}

/// The first node misbehaves as `first`; the second answers. The client gets the second's
/// answer, both attempts reach the breakers, and one record names node 2.
fn fails_over(first: Answer, stream: bool) -> Rc<FakePlatform> {
    let first = std::cell::RefCell::new(Some(first));
    let p = Rc::new(FakePlatform::new(move |out| if out.url.contains("n1.test") { first.borrow_mut().take().unwrap_or(Answer::Refuse("once".into())) } else { good(out) }));
    let reply = run(&p, &two_nodes(), request("/v1/chat/completions", chat(json!({"stream": stream}))));
    assert_eq!(reply.status, 200);
    let out = text(reply);
    assert!(out.contains("hel"), "{out}");
    assert_eq!(p.urls().len(), 2, "one attempt per node: {:?}", p.urls());
    settled_once(&p, 200, Some(2));
    let ended = p.ended.borrow();
    assert_eq!(ended.len(), 2);
    assert_eq!(ended[1].0, 2);
    assert_eq!(ended[1].3, Outcome::Success);
    assert!(matches!(ended[0].3, Outcome::Failure { .. }), "{ended:?}");
    drop(ended);
    p
}

fn first_scope(p: &FakePlatform) -> Scope {
    p.ended.borrow()[0].2
}

#[test]
fn an_error_status_fails_over() {
    let p = fails_over(Answer::json(500, &json!({"error": {"message": "boom"}})), false);
    assert_eq!(first_scope(&p), Scope::Pair, "the API's own 500: that model on that node");
}

#[test]
fn a_429_fails_over_and_passes_its_retry_after_to_the_breaker() {
    let p = fails_over(Answer::json(429, &json!({"error": {"message": "slow down"}})).with_header("retry-after", "3"), true);
    assert!(matches!(&p.ended.borrow()[0].3, Outcome::Failure { retry_after_ms: Some(3000), .. }), "{:?}", p.ended.borrow());
}

#[test]
fn an_html_page_fails_over_and_blames_the_node() {
    let p = fails_over(Answer::raw(200, "text/html", b"<html>login</html>"), false);
    assert_eq!(first_scope(&p), Scope::Node);
}

#[test]
fn a_hang_before_the_headers_fails_over() {
    let p = fails_over(Answer::Hang, false);
    assert_eq!(first_scope(&p), Scope::Node, "no answer within the first-byte deadline");
}

#[test]
fn a_stream_silent_before_its_first_event_fails_over() {
    let p = fails_over(Answer::stream("text/event-stream", vec![Chunk::Bytes(b": ping\n\n".to_vec()), Chunk::Hang]), true);
    assert_eq!(first_scope(&p), Scope::Pair);
}

#[test]
fn an_empty_stream_fails_over() {
    fails_over(Answer::stream("text/event-stream", vec![]), true);
}

#[test]
fn a_stream_broken_before_its_first_event_fails_over() {
    let p = fails_over(Answer::stream("text/event-stream", vec![Chunk::Break("reset".into())]), true);
    assert_eq!(first_scope(&p), Scope::Node);
}

#[test]
fn a_body_that_is_not_json_fails_over() {
    fails_over(Answer::raw(200, "application/json", b"this is not json"), false);
}

#[test]
fn a_refused_connection_fails_over() {
    let p = fails_over(Answer::Refuse("connection refused".into()), false);
    assert_eq!(first_scope(&p), Scope::Node);
}

#[test]
fn a_stream_broken_after_its_first_event_ends_in_band_on_the_same_node() {
    let broken = Answer::stream(
        "text/event-stream",
        vec![Chunk::Bytes(format!("data: {}\n\n", json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [{"index": 0, "delta": {"content": "hel"}, "finish_reason": null}]})).into_bytes()), Chunk::Break("connection reset".into())],
    );
    let first = std::cell::RefCell::new(Some(broken));
    let p = Rc::new(FakePlatform::new(move |out| if out.url.contains("n1.test") { first.borrow_mut().take().unwrap() } else { good(out) }));
    let reply = run(&p, &two_nodes(), request("/v1/chat/completions", chat(json!({"stream": true}))));
    assert_eq!(reply.status, 200, "the answer had begun");
    let out = text(reply);
    assert!(out.contains("hel") && out.contains("error"), "the stream ends with an in-band error: {out}");
    assert_eq!(p.urls().len(), 1, "no failover after the first byte");
    settled_once(&p, 502, Some(1));
    assert_eq!(*p.streams.borrow(), vec![(1, true), (1, false)]);
}

#[test]
fn a_client_error_is_answered_without_failover() {
    let p = Rc::new(FakePlatform::new(|_| Answer::json(400, &json!({"error": {"message": "bad temperature"}}))));
    let reply = run(&p, &two_nodes(), request("/v1/chat/completions", chat(json!({}))));
    assert_eq!(reply.status, 400);
    assert!(text(reply).contains("bad temperature"));
    assert_eq!(p.urls().len(), 1);
    settled_once(&p, 400, Some(1));
    assert_eq!(p.ended.borrow()[0].2, Scope::Nothing, "the caller's own mistake counts against no node");
}

#[test]
fn when_every_node_fails_the_client_gets_one_error_and_one_record() {
    let p = Rc::new(FakePlatform::new(|_| Answer::json(503, &json!({"error": {"message": "overloaded"}}))));
    let reply = run(&p, &two_nodes(), request("/v1/chat/completions", chat(json!({}))));
    assert_eq!(reply.status, 502);
    let out = text(reply);
    assert!(out.contains("all 2 attempt(s)"), "{out}");
    assert_eq!(p.urls().len(), 2);
    let records = p.records.borrow();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, 502);
    assert!(records[0].reached_origin);
}

// ---- usage settled exactly once, with the admitted limits ----

fn limited() -> Rc<Snapshot> {
    let mut s = (*two_nodes()).clone();
    s.users[0].request_limit = Some(100);
    Rc::new(s.indexed())
}

#[test]
fn usage_and_limits_settle_once_on_success_and_on_error() {
    for (answer, status) in [(None, 200), (Some(Answer::json(503, &json!({"error": "down"}))), 502)] {
        let p = Rc::new(FakePlatform::new(move |out| answer.clone().unwrap_or_else(|| good(out))).with_limits(Limits::Admit));
        let reply = run(&p, &limited(), request("/v1/chat/completions", chat(json!({}))));
        assert_eq!(reply.status, status);
        let _ = body(reply);
        assert_eq!(p.records.borrow().len(), 1, "{status}");
        assert_eq!(p.settled.borrow().len(), 1, "{status}: the admitted scope is settled once");
        assert_eq!(p.settled.borrow()[0].scope, "user:7");
    }
}

#[test]
fn a_client_dropping_the_stream_settles_it_once_as_gone() {
    let p = Rc::new(FakePlatform::new(good).with_limits(Limits::Admit));
    let reply = run(&p, &limited(), request("/v1/chat/completions", chat(json!({"stream": true}))));
    assert_eq!(reply.status, 200);
    assert!(p.records.borrow().is_empty(), "nothing settled while the stream is open");
    let Body::Relay(relayed) = reply.body else { panic!("a relayed stream") };
    let mut s = relayed.into_stream();
    let first = block_on(s.next()).expect("a first chunk").expect("bytes");
    assert!(!first.is_empty());
    drop(s);
    let records = p.records.borrow();
    assert_eq!(records.len(), 1, "settled when dropped");
    assert_eq!(records[0].status, 499);
    assert_eq!(p.settled.borrow().len(), 1);
    assert_eq!(*p.streams.borrow(), vec![(1, true), (1, false)]);
}

#[test]
fn a_client_leaving_before_the_first_byte_is_recorded_once_and_blames_nobody() {
    let p = FakePlatform::new(|_| Answer::Hang).with_sleep(maestro_edge::platform::fake::Sleep::Never);
    p.leave_on_fetch.set(true);
    let p = Rc::new(p);
    let reply = run(&p, &two_nodes(), request("/v1/chat/completions", chat(json!({}))));
    assert_eq!(reply.status, 499);
    assert_eq!(p.urls().len(), 1);
    settled_once(&p, 499, Some(1));
    assert_eq!(p.ended.borrow()[0].2, Scope::Nothing);
}
