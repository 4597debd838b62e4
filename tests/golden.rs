//! Golden fixtures per dialect, replayed natively through the dialect table (`dialect::`), its
//! decoders and encoders, the same-dialect passthroughs and the stream relay's framing.
//!
//! Layout: `tests/fixtures/<dialect>/`
//! - `requests/<name>.json`: a client body in `<dialect>` (what Claude Code, Codex, Cursor or an
//!   Ollama client sends). Decoded to the IR (`dialect::decode_request`) and encoded for every
//!   origin API a translated leg can send it to; expected `<name>.to-<origin>.json`
//!   (`openai`, `ollama`, `anthropic`), or `{"error": ...}` when that origin cannot carry it.
//!   `requests/invalid/<name>.json`: a body the decoder refuses; expected `<name>.error.json`
//!   (status, field, message of the 400).
//! - `responses/<name>.json`: a whole answer of an origin speaking `<dialect>` (vLLM, Ollama,
//!   Anthropic). Decoded (`dialect::decode_response`) and encoded for every client dialect
//!   (`dialect::encode_response`); expected `<name>.to-<client>.json`.
//! - `streams/<name>.sse` or `.ndjson`: a stream of such an origin, bytes as they come. Relayed
//!   (`stream::relay::RelayCore`) through the transcoding transform to every client dialect and
//!   through the dialect's own passthrough; expected `<name>.to-<client>.<ext>` and
//!   `<name>.passthrough.<ext>`, and `<name>.finish.json` (per output: complete or not, usage,
//!   error). Each stream is replayed whole, byte by byte, and split in two at every byte offset:
//!   every split must give the same bytes, so no decoder or encoder depends on chunk boundaries.
//!   Streams named `kimi-*`, `deepseek-*` or `think-*` are transcoded with that model's output
//!   repair (`repair::for_model`) and have no passthrough output.
//!
//! What the wall clock writes (Ollama's `created_at` and durations) is normalised before
//! comparing. `GOLDEN_BLESS=1 cargo test --test golden` rewrites the expected files from the
//! current code: review the diff, it is the behaviour change.

use maestro_edge::dialect::{self, ollama, AnswerSpec, Decoder};
use maestro_edge::origins::Api;
use maestro_edge::repair;
use maestro_edge::routes::Op;
use maestro_edge::stream::relay::{Finished, RelayCore};
use maestro_edge::stream::transcode::Transcode;
use maestro_edge::stream::transform::Transform;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The name the client asked for; origin encoders get `REAL` instead.
const DISPLAY: &str = "display-model";
const REAL: &str = "real-model";
/// The request id (without `req_`) answers derive their ids from.
const ID: &str = "golden";
const CREATED: i64 = 1_767_225_600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bless() -> bool {
    std::env::var_os("GOLDEN_BLESS").is_some()
}

/// Files of one fixture kind that are inputs (not expected outputs), sorted.
fn inputs(dialect: &str, kind: &str) -> Vec<PathBuf> {
    let dir = root().join(dialect).join(kind);
    let Ok(rd) = fs::read_dir(&dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            !n.contains(".to-") && !n.contains(".passthrough.") && !n.ends_with(".finish.json") && !n.ends_with(".error.json")
        })
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().split('.').next().unwrap().to_string()
}

/// Compare `actual` with the expected file (or write it when blessing). Returns a failure line.
fn check(expected: &Path, actual: &str) -> Option<String> {
    if bless() {
        fs::write(expected, actual).unwrap();
        return None;
    }
    match fs::read_to_string(expected) {
        Err(_) => Some(format!("{}: missing (run with GOLDEN_BLESS=1 and review it)", expected.display())),
        Ok(want) if want == actual => None,
        Ok(want) => Some(format!("{}: differs\n--- expected\n{want}\n--- actual\n{actual}", expected.display())),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

fn object(p: &Path) -> Map<String, Value> {
    let text = fs::read_to_string(p).unwrap();
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => m,
        other => panic!("{}: not a JSON object: {other:?}", p.display()),
    }
}

fn report(failures: Vec<String>, seen: usize) {
    assert!(seen > 0, "no fixtures found under {}", root().display());
    assert!(failures.is_empty(), "{} of the golden checks failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

// ---- requests -------------------------------------------------------------------------------

/// The operation a client fixture is decoded as (Ollama: `generate-*` bodies are `/api/generate`).
fn client_op(dialect: &str, name: &str) -> Op {
    match dialect {
        "openai" => Op::ChatCompletions,
        "anthropic" => Op::Messages,
        "responses" => Op::Responses,
        "ollama" if name.starts_with("generate") => Op::OllamaGenerate,
        "ollama" => Op::OllamaChat,
        other => panic!("unknown dialect folder {other}"),
    }
}

/// The origin APIs a translated leg of this client can reach (an Anthropic client on an
/// `anthropic` node is never translated).
fn origins_for(dialect: &str) -> Vec<(&'static str, Api)> {
    let mut v = vec![("openai", Api::OpenAiChat), ("ollama", Api::OllamaChat)];
    if dialect != "anthropic" {
        v.push(("anthropic", Api::AnthropicMessages));
    }
    v
}

#[test]
fn requests_decode_and_encode_for_every_origin() {
    let (mut failures, mut seen) = (Vec::new(), 0);
    for dialect in ["openai", "anthropic", "responses", "ollama"] {
        for input in inputs(dialect, "requests") {
            seen += 1;
            let name = stem(&input);
            let ir = match dialect::decode_request(&client_op(dialect, &name), &object(&input)) {
                Ok(ir) => ir,
                Err(e) => {
                    failures.push(format!("{}: refused: {e}", input.display()));
                    continue;
                }
            };
            for (origin, api) in origins_for(dialect) {
                let out = match dialect::encode_request(api, &ir, REAL).expect("a chat API") {
                    Ok(v) => v,
                    Err(e) => json!({"error": e.message(), "status": e.status()}),
                };
                failures.extend(check(&input.with_file_name(format!("{name}.to-{origin}.json")), &pretty(&out)));
            }
        }
        for input in inputs(dialect, "requests/invalid") {
            seen += 1;
            let name = stem(&input);
            let out = match dialect::decode_request(&client_op(dialect, &name), &object(&input)) {
                Ok(_) => json!({"accepted": true}),
                Err(e) => json!({"status": e.status(), "field": e.field(), "message": e.message()}),
            };
            failures.extend(check(&input.with_file_name(format!("{name}.error.json")), &pretty(&out)));
        }
    }
    report(failures, seen);
}

// ---- whole answers --------------------------------------------------------------------------

fn origin_api(dialect: &str) -> Api {
    match dialect {
        "openai" => Api::OpenAiChat,
        "ollama" => Api::OllamaChat,
        "anthropic" => Api::AnthropicMessages,
        other => panic!("no origin speaks {other}"),
    }
}

const CLIENTS: [(&str, Op); 5] = [("openai", Op::ChatCompletions), ("anthropic", Op::Messages), ("responses", Op::Responses), ("ollama", Op::OllamaChat), ("ollama-generate", Op::OllamaGenerate)];

fn spec() -> AnswerSpec<'static> {
    AnswerSpec { display: DISPLAY, id: ID, created: CREATED, elapsed_ms: 250, include_usage: true, input_estimate: 42, responses_meta: None, responses_tools: None, origin_tag: None, prompt_estimate: 0 }
}

/// Wall-clock values (Ollama's `created_at` and durations) replaced by fixed ones.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\"created_at\":\"") {
        let start = i + "\"created_at\":\"".len();
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('"').unwrap();
        out.push_str("<time>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    for key in ["total_duration", "load_duration", "prompt_eval_duration", "eval_duration"] {
        let pat = format!("\"{key}\":");
        let mut s = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&pat) {
            let start = i + pat.len();
            s.push_str(&rest[..start]);
            let digits = rest[start..].bytes().take_while(u8::is_ascii_digit).count();
            s.push('0');
            rest = &rest[start + digits..];
        }
        s.push_str(rest);
        out = s;
    }
    out
}

#[test]
fn answers_decode_and_encode_for_every_client() {
    let (mut failures, mut seen) = (Vec::new(), 0);
    for dialect in ["openai", "ollama", "anthropic"] {
        for input in inputs(dialect, "responses") {
            seen += 1;
            let name = stem(&input);
            let v = Value::Object(object(&input));
            let decoded = dialect::decode_response(origin_api(dialect), &v);
            for (client, op) in CLIENTS {
                let out = match &decoded {
                    Ok(r) => dialect::encode_response(&op, &mut r.clone(), spec(), &ollama::Timing::from_ms(100, 400)),
                    Err(e) => json!({"origin_error": e}),
                };
                failures.extend(check(&input.with_file_name(format!("{name}.to-{client}.json")), &normalise(&serde_json::to_string(&out).unwrap()).parse::<Value>().map(|v| pretty(&v)).unwrap()));
            }
        }
    }
    report(failures, seen);
}

// ---- streams --------------------------------------------------------------------------------

/// The real model a stream fixture is repaired as (`repair::for_model`), by its name: raw Kimi
/// or DeepSeek tool-call markup, or `<think>` tags in the content; `None`: no repair.
fn repaired_as(name: &str) -> Option<&'static str> {
    [("kimi", "kimi-k2"), ("deepseek", "deepseek-v3.2"), ("think", "qwen3:32b")].into_iter().find(|(p, _)| name.starts_with(p)).map(|(_, m)| m)
}

/// One relay run: the stream cut into `pieces`, then ended by the origin.
fn relay(transform: Box<dyn Transform>, pieces: &[&[u8]]) -> (Vec<u8>, Finished) {
    let finished = Rc::new(RefCell::new(None));
    let f = finished.clone();
    let mut core = RelayCore::new(Vec::new(), transform, Box::new(move |x| *f.borrow_mut() = Some(x)));
    let mut out = Vec::new();
    for p in pieces {
        core.push(p, &mut out);
    }
    core.upstream_ended(&mut out);
    let fin = finished.borrow_mut().take().expect("the finish hook runs once the stream ends");
    (out, fin)
}

fn summary(f: &Finished) -> Value {
    json!({
        "completed": f.completed,
        "usage": f.usage.map(|u| json!({"prompt": u.prompt_tokens, "completion": u.completion_tokens, "estimated": u.estimated})),
        "error": f.error,
    })
}

// One test per origin dialect, so they run in parallel (each replays its streams O(n²) times).
#[test]
fn openai_streams_replay_identically_at_every_split() {
    streams("openai");
}

#[test]
fn ollama_streams_replay_identically_at_every_split() {
    streams("ollama");
}

#[test]
fn anthropic_streams_replay_identically_at_every_split() {
    streams("anthropic");
}

fn streams(dialect: &str) {
    let (mut failures, mut seen) = (Vec::new(), 0);
    {
        for input in inputs(dialect, "streams") {
            seen += 1;
            let name = stem(&input);
            let ext = input.extension().unwrap().to_str().unwrap().to_string();
            let bytes = fs::read(&input).unwrap();
            let api = origin_api(dialect);
            let mut outputs: Vec<(String, String, Box<dyn Fn() -> Box<dyn Transform>>)> = Vec::new();
            for (client, op) in CLIENTS {
                let client_ext = if client.starts_with("ollama") { "ndjson" } else { "sse" };
                let model = repaired_as(&name);
                outputs.push((client.to_string(), client_ext.to_string(), Box::new(move || Box::new(Transcode::new(Decoder::for_api(api), model.map(repair::for_model), dialect::encoder_for(&op, spec(), None))))));
            }
            if repaired_as(&name).is_none() {
                // A model whose output needs repair is never passed through.
                outputs.push(("passthrough".to_string(), ext.clone(), Box::new(move || dialect::passthrough_for(api, DISPLAY, false))));
            }
            let mut finish = Map::new();
            for (label, out_ext, make) in &outputs {
                let (whole, fin) = relay(make(), &[&bytes]);
                let whole = normalise(&String::from_utf8(whole).expect("UTF-8 out"));
                let file = if label == "passthrough" { format!("{name}.passthrough.{out_ext}") } else { format!("{name}.to-{label}.{out_ext}") };
                failures.extend(check(&input.with_file_name(file), &whole));
                finish.insert(label.clone(), summary(&fin));
                let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
                let mut splits = vec![("byte by byte".to_string(), relay(make(), &bytewise))];
                for k in 1..bytes.len() {
                    splits.push((format!("split at {k}"), relay(make(), &[&bytes[..k], &bytes[k..]])));
                }
                for (how, (out, f)) in splits {
                    let out = normalise(&String::from_utf8(out).expect("UTF-8 out"));
                    if out != whole || summary(&f) != summary(&fin) {
                        failures.push(format!("{} -> {label}: {how} differs from the whole stream\n--- whole\n{whole}\n--- {how}\n{out}", input.display()));
                        break;
                    }
                }
            }
            failures.extend(check(&input.with_file_name(format!("{name}.finish.json")), &pretty(&Value::Object(finish))));
        }
    }
    report(failures, seen);
}
