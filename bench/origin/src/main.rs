//! bench-origin: a fast fake LLM origin for the gateway benchmark (no model runs here).
//!
//! Speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked request bodies) and both
//! dialects the gateway relays:
//!   Ollama  GET /api/version, /api/tags, /api/ps; POST /api/show, /api/chat, /api/generate
//!           (NDJSON when streaming, which is Ollama's default)
//!   OpenAI  GET /v1/models; POST /v1/chat/completions, /v1/completions (SSE when "stream":true,
//!           with a usage chunk when stream_options.include_usage is true)
//! Timing comes from the command line and can be overridden per request by body fields the
//! gateway forwards untouched: "bench_ttft_us" (delay before the first byte, or before the whole
//! answer when not streaming), "bench_chunks" (content chunks), "bench_chunk_delay_us".
//!
//! One OS thread per connection with blocking I/O and TCP_NODELAY: no async runtime to pay
//! for, and every chunk leaves in its own write so the gateway sees it as a separate read.
//! usage: bench-origin [--port 0] [--ttft-us 0] [--chunks 200] [--chunk-delay-us 1000]
//! Prints `listening <port>` on stdout once bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

pub const MODEL: &str = "bench-llm:latest";

#[derive(Clone, Copy)]
struct Timing {
    ttft_us: u64,
    chunks: u64,
    chunk_delay_us: u64,
}

fn main() {
    let mut port = 0u16;
    let mut t = Timing { ttft_us: 0, chunks: 200, chunk_delay_us: 1000 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).map(|s| s.as_str()).unwrap_or("");
        match args[i].as_str() {
            "--port" => port = v.parse().expect("--port N"),
            "--ttft-us" => t.ttft_us = v.parse().expect("--ttft-us N"),
            "--chunks" => t.chunks = v.parse().expect("--chunks N"),
            "--chunk-delay-us" => t.chunk_delay_us = v.parse().expect("--chunk-delay-us N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    println!("listening {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().ok();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || {
            let _ = serve(conn, t);
        });
    }
}

struct Req {
    method: String,
    path: String,
    body: Vec<u8>,
    close: bool,
}

fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Req>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").split('?').next().unwrap_or("/").to_string();
    let (mut len, mut chunked, mut close) = (0usize, false, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => len = v.parse().unwrap_or(0),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if len > 0 {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Some(Req { method, path, body, close }))
}

/// The raw JSON value after `"key":` (compact or spaced), up to the next `,` or `}` at depth 0.
/// Enough for the flat fields we read; strings are returned without quotes.
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\"");
    let at = body.find(&pat)? + pat.len();
    let rest = body[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return s.find('"').map(|e| &s[..e]);
    }
    let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

fn num(body: &str, key: &str, default: u64) -> u64 {
    field(body, key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sleep_us(us: u64) {
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
}

fn respond(w: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 128);
    write!(out, "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n", body.len())?;
    out.extend_from_slice(body);
    w.write_all(&out)
}

fn chunk(w: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(data.len() + 16);
    write!(out, "{:x}\r\n", data.len())?;
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    w.write_all(&out)
}

fn serve(conn: TcpStream, defaults: Timing) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r)? {
        handle(&mut w, &req, defaults)?;
        if req.close {
            break;
        }
    }
    Ok(())
}

fn handle(w: &mut TcpStream, req: &Req, d: Timing) -> std::io::Result<()> {
    const JSON: &str = "application/json";
    let body = std::str::from_utf8(&req.body).unwrap_or("");
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/version") => return respond(w, "200 OK", JSON, br#"{"version":"0.13.0"}"#),
        ("GET", "/api/tags") => {
            let b = format!(r#"{{"models":[{{"name":"{MODEL}","model":"{MODEL}","modified_at":"2026-01-01T00:00:00Z","size":1000,"digest":"sha256:bench","details":{{"family":"llama","format":"gguf","parameter_size":"8B","quantization_level":"Q4_0"}}}}]}}"#);
            return respond(w, "200 OK", JSON, b.as_bytes());
        }
        ("GET", "/api/ps") => return respond(w, "200 OK", JSON, br#"{"models":[]}"#),
        ("POST", "/api/show") => {
            return respond(w, "200 OK", JSON, br#"{"modelfile":"","parameters":"","template":"{{ .Prompt }}","details":{"family":"llama"},"model_info":{"general.architecture":"llama","llama.context_length":8192},"capabilities":["completion","tools"]}"#)
        }
        ("GET", "/v1/models") => {
            let b = format!(r#"{{"object":"list","data":[{{"id":"{MODEL}","object":"model","owned_by":"bench","max_model_len":8192}}]}}"#);
            return respond(w, "200 OK", JSON, b.as_bytes());
        }
        ("POST", "/api/chat" | "/api/generate" | "/v1/chat/completions" | "/v1/completions") => {}
        _ => return respond(w, "404 Not Found", JSON, br#"{"error":"not found"}"#),
    }
    let native = req.path.starts_with("/api/");
    let chat = req.path.ends_with("chat") || req.path.ends_with("chat/completions");
    let model = field(body, "model").unwrap_or(MODEL).to_string();
    let stream = field(body, "stream").map(|v| v == "true").unwrap_or(native);
    let usage = field(body, "include_usage") == Some("true");
    let t = Timing { ttft_us: num(body, "bench_ttft_us", d.ttft_us), chunks: num(body, "bench_chunks", d.chunks), chunk_delay_us: num(body, "bench_chunk_delay_us", d.chunk_delay_us) };
    let ts = "2026-01-01T00:00:00.000000000Z";

    if !stream {
        sleep_us(t.ttft_us);
        let text = "Hello from the bench origin. ".repeat(4);
        let b = match (native, chat) {
            (true, true) => format!(r#"{{"model":"{model}","created_at":"{ts}","message":{{"role":"assistant","content":"{text}"}},"done":true,"done_reason":"stop","prompt_eval_count":12,"eval_count":24}}"#),
            (true, false) => format!(r#"{{"model":"{model}","created_at":"{ts}","response":"{text}","done":true,"done_reason":"stop","prompt_eval_count":12,"eval_count":24}}"#),
            (false, true) => format!(r#"{{"id":"chatcmpl-bench","object":"chat.completion","created":1767225600,"model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":12,"completion_tokens":24,"total_tokens":36}}}}"#),
            (false, false) => format!(r#"{{"id":"cmpl-bench","object":"text_completion","created":1767225600,"model":"{model}","choices":[{{"index":0,"text":"{text}","finish_reason":"stop"}}],"usage":{{"prompt_tokens":12,"completion_tokens":24,"total_tokens":36}}}}"#),
        };
        return respond(w, "200 OK", JSON, b.as_bytes());
    }

    let ctype = if native { "application/x-ndjson" } else { "text/event-stream" };
    w.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes())?;
    sleep_us(t.ttft_us);
    for i in 0..t.chunks {
        if i > 0 {
            sleep_us(t.chunk_delay_us);
        }
        let line = match (native, chat) {
            (true, true) => format!("{{\"model\":\"{model}\",\"created_at\":\"{ts}\",\"message\":{{\"role\":\"assistant\",\"content\":\"tok{i} \"}},\"done\":false}}\n"),
            (true, false) => format!("{{\"model\":\"{model}\",\"created_at\":\"{ts}\",\"response\":\"tok{i} \",\"done\":false}}\n"),
            (false, true) => format!("data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"),
            (false, false) => format!("data: {{\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1767225600,\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"text\":\"tok{i} \",\"finish_reason\":null}}]}}\n\n"),
        };
        chunk(w, line.as_bytes())?;
    }
    sleep_us(t.chunk_delay_us);
    let n = t.chunks;
    let mut tail = String::new();
    if native {
        let part = if chat { r#""message":{"role":"assistant","content":""}"# } else { r#""response":"""# };
        tail.push_str(&format!("{{\"model\":\"{model}\",\"created_at\":\"{ts}\",{part},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":12,\"eval_count\":{n}}}\n"));
    } else {
        let obj = if chat { "chat.completion.chunk" } else { "text_completion" };
        let choice = if chat { r#"{"index":0,"delta":{},"finish_reason":"stop"}"# } else { r#"{"index":0,"text":"","finish_reason":"stop"}"# };
        tail.push_str(&format!("data: {{\"id\":\"chatcmpl-bench\",\"object\":\"{obj}\",\"created\":1767225600,\"model\":\"{model}\",\"choices\":[{choice}]}}\n\n"));
        if usage {
            tail.push_str(&format!("data: {{\"id\":\"chatcmpl-bench\",\"object\":\"{obj}\",\"created\":1767225600,\"model\":\"{model}\",\"choices\":[],\"usage\":{{\"prompt_tokens\":12,\"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\n", n + 12));
        }
        tail.push_str("data: [DONE]\n\n");
    }
    chunk(w, tail.as_bytes())?;
    w.write_all(b"0\r\n\r\n")
}
