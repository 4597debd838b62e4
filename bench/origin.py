#!/usr/bin/env python3
"""Python asyncio flavour of the benchmark's fake origin: the same protocol as bench/origin
(Rust), so `--origin python` can be compared with it. See bench/origin/src/main.rs for routes
and the per-request timing fields (bench_ttft_us, bench_chunks, bench_chunk_delay_us).
usage: origin.py [--port 0] [--ttft-us 0] [--chunks 200] [--chunk-delay-us 1000]
"""
import argparse, asyncio, json, socket

MODEL = "bench-llm:latest"
TS = "2026-01-01T00:00:00.000000000Z"
TEXT = "Hello from the bench origin. " * 4
D = None


def dumps(o):
    return json.dumps(o, separators=(",", ":"))


async def sleep_us(us):
    if us > 0:
        await asyncio.sleep(us / 1e6)


def head(status, ctype, length=None):
    h = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
    h += f"Content-Length: {length}\r\n\r\n" if length is not None else "Transfer-Encoding: chunked\r\n\r\n"
    return h.encode()


def chunk(b):
    return b"%x\r\n%s\r\n" % (len(b), b)


async def handle(reader, writer):
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            raw_head = await reader.readuntil(b"\r\n\r\n")
            lines = raw_head.decode().split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            path = target.split("?")[0]
            hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            body_raw = b""
            if hdrs.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    n = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                    data = await reader.readexactly(n + 2)
                    if n == 0:
                        break
                    body_raw += data[:-2]
            elif int(hdrs.get("content-length", "0")):
                body_raw = await reader.readexactly(int(hdrs["content-length"]))
            await respond(writer, method, path, body_raw)
            await writer.drain()
            if hdrs.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


def json_reply(writer, code, obj):
    b = dumps(obj).encode()
    writer.write(head(code, "application/json", len(b)) + b)


async def respond(w, method, path, raw):
    if method == "GET" and path == "/api/version":
        return json_reply(w, "200 OK", {"version": "0.13.0"})
    if method == "GET" and path == "/api/tags":
        return json_reply(w, "200 OK", {"models": [{"name": MODEL, "model": MODEL, "modified_at": "2026-01-01T00:00:00Z", "size": 1000, "digest": "sha256:bench", "details": {"family": "llama", "format": "gguf", "parameter_size": "8B", "quantization_level": "Q4_0"}}]})
    if method == "GET" and path == "/api/ps":
        return json_reply(w, "200 OK", {"models": []})
    if method == "POST" and path == "/api/show":
        return json_reply(w, "200 OK", {"modelfile": "", "parameters": "", "template": "{{ .Prompt }}", "details": {"family": "llama"}, "model_info": {"general.architecture": "llama", "llama.context_length": 8192}, "capabilities": ["completion", "tools"]})
    if method == "GET" and path == "/v1/models":
        return json_reply(w, "200 OK", {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench", "max_model_len": 8192}]})
    if method != "POST" or path not in ("/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions"):
        return json_reply(w, "404 Not Found", {"error": "not found"})
    body = json.loads(raw) if raw else {}
    native = path.startswith("/api/")
    chat = path.endswith("chat") or path.endswith("chat/completions")
    model = body.get("model", MODEL)
    stream = body.get("stream", native)
    ttft = body.get("bench_ttft_us", D.ttft_us)
    chunks = body.get("bench_chunks", D.chunks)
    delay = body.get("bench_chunk_delay_us", D.chunk_delay_us)
    if not stream:
        await sleep_us(ttft)
        if native:
            o = {"model": model, "created_at": TS, **({"message": {"role": "assistant", "content": TEXT}} if chat else {"response": TEXT}), "done": True, "done_reason": "stop", "prompt_eval_count": 12, "eval_count": 24}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"} if chat else {"index": 0, "text": TEXT, "finish_reason": "stop"}
            o = {"id": "chatcmpl-bench", "object": "chat.completion" if chat else "text_completion", "created": 1767225600, "model": model, "choices": [choice], "usage": {"prompt_tokens": 12, "completion_tokens": 24, "total_tokens": 36}}
        return json_reply(w, "200 OK", o)
    w.write(head("200 OK", "application/x-ndjson" if native else "text/event-stream"))
    await w.drain()
    await sleep_us(ttft)
    obj = "chat.completion.chunk" if chat else "text_completion"
    for i in range(chunks):
        if i > 0:
            await sleep_us(delay)
        piece = f"tok{i} "
        if native:
            line = dumps({"model": model, "created_at": TS, **({"message": {"role": "assistant", "content": piece}} if chat else {"response": piece}), "done": False}) + "\n"
        else:
            c = {"index": 0, "delta": {"content": piece}, "finish_reason": None} if chat else {"index": 0, "text": piece, "finish_reason": None}
            line = "data: " + dumps({"id": "chatcmpl-bench", "object": obj, "created": 1767225600, "model": model, "choices": [c]}) + "\n\n"
        w.write(chunk(line.encode()))
        await w.drain()
    await sleep_us(delay)
    n = chunks
    if native:
        tail = dumps({"model": model, "created_at": TS, **({"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}), "done": True, "done_reason": "stop", "prompt_eval_count": 12, "eval_count": n}) + "\n"
    else:
        c = {"index": 0, "delta": {}, "finish_reason": "stop"} if chat else {"index": 0, "text": "", "finish_reason": "stop"}
        tail = "data: " + dumps({"id": "chatcmpl-bench", "object": obj, "created": 1767225600, "model": model, "choices": [c]}) + "\n\n"
        if (body.get("stream_options") or {}).get("include_usage"):
            tail += "data: " + dumps({"id": "chatcmpl-bench", "object": obj, "created": 1767225600, "model": model, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": n + 12}}) + "\n\n"
        tail += "data: [DONE]\n\n"
    w.write(chunk(tail.encode()) + b"0\r\n\r\n")


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", D.port, backlog=1024)
    print(f"listening {srv.sockets[0].getsockname()[1]}", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ttft-us", type=int, default=0)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--chunk-delay-us", type=int, default=1000)
    D = ap.parse_args()
    asyncio.run(main())
