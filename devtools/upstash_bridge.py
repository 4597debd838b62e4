#!/usr/bin/env python3
"""Upstash REST protocol in front of a real redis-server (dev and test tooling only).

No Upstash-compatible server can be installed here (see the README), so the tests and `make dev`
run this bridge: it speaks the REST dialect the Worker's client and the official @upstash/redis
client use, and forwards every command unchanged to redis-server, so what is tested is Redis's
own behaviour (atomic Lua, MULTI/EXEC, expiry), not an imitation of it.

Protocol (https://upstash.com/docs/redis/features/restapi):
  POST /                 body ["CMD", "arg", ...]         -> {"result": ...} | 400 {"error": "..."}
  POST /pipeline         body [["CMD", ...], ...]         -> [{"result": ...} | {"error": "..."}, ...]
  POST /multi-exec       body [["CMD", ...], ...]         -> the same, atomically (MULTI/EXEC);
                                                             a command refused while queueing
                                                             aborts all: 400 {"error": "EXECABORT ..."}
  GET|POST /cmd/arg/...  path form (a POST body is one more argument)
  Authorization: Bearer <token> (or ?_token=<token>); anything else is 401 {"error": "Unauthorized"}
  Upstash-Encoding: base64  -> every string in a result is base64 except "OK" (what @upstash/redis
                               expects: it decodes every string but "OK")

usage: upstash_bridge.py --redis redis://127.0.0.1:6379 --token TOKEN [--port 0] [--port-file F]
Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
"""
import argparse
import base64
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, TimeoutError as RedisTimeoutError

POOL = None  # redis.ConnectionPool, set in main()
TOKEN = ""


def error_text(e):
    # redis-py strips the error code ("NOSCRIPT", "ERR", "EXECABORT") into status_code; clients
    # need it back (the NOSCRIPT fallback of EVALSHA matches on it), so restore Redis's own text.
    code = getattr(e, "status_code", None)
    return f"{code} {e}" if code else str(e)


def arg(v):
    # JSON arguments may be numbers or booleans (@upstash/redis sends numbers as numbers);
    # Redis wants strings, spelled the way JavaScript's String() spells them.
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if v is None:
        return ""
    return v if isinstance(v, str) else str(v)


def enc(v, b64):
    if isinstance(v, ResponseError):  # an error inside an array (EXEC, EVAL results)
        raise v
    if isinstance(v, bytes):
        if b64:
            return "OK" if v == b"OK" else base64.b64encode(v).decode()
        return v.decode("utf-8", "replace")
    if isinstance(v, (list, tuple)):
        return [enc(x, b64) for x in v]
    return v  # int or None


def one(v, b64):
    """One command's reply as Upstash's {"result"} / {"error"} object."""
    if isinstance(v, ResponseError):
        return {"error": error_text(v)}
    try:
        return {"result": enc(v, b64)}
    except ResponseError as e:
        return {"error": error_text(e)}


def run(cmds):
    """Send the commands on one connection, in order, and read every reply (errors included)."""
    conn = POOL.get_connection()
    try:
        conn.send_packed_command(conn.pack_commands([[arg(a) for a in c] for c in cmds]))
        out = []
        for _ in cmds:
            try:
                out.append(conn.read_response())
            except ResponseError as e:
                out.append(e)
        return out
    except BaseException:
        conn.disconnect()  # the reply stream is out of step: never reuse this connection
        raise
    finally:
        POOL.release(conn)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self, query):
        if self.headers.get("Authorization", "") == f"Bearer {TOKEN}":
            return True
        return urllib.parse.parse_qs(query).get("_token") == [TOKEN]

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        if not self.authorized(url.query):
            return self.reply(401, {"error": "Unauthorized"})
        b64 = self.headers.get("Upstash-Encoding", "").lower() == "base64"
        path = url.path.strip("/")
        try:
            if path in ("pipeline", "multi-exec"):
                cmds = json.loads(raw or b"null")
                if not isinstance(cmds, list) or not cmds or not all(isinstance(c, list) and c for c in cmds):
                    return self.reply(400, {"error": "ERR the body must be a non-empty array of command arrays"})
                if path == "pipeline":
                    return self.reply(200, [one(v, b64) for v in run(cmds)])
                return self.multi_exec(cmds, b64)
            if path:
                cmd = [urllib.parse.unquote(p) for p in path.split("/")]
                if raw:
                    cmd.append(raw.decode("utf-8", "replace"))
            else:
                cmd = json.loads(raw or b"null")
                if not isinstance(cmd, list) or not cmd:
                    return self.reply(400, {"error": "ERR the body must be a non-empty command array"})
            r = one(run([cmd])[0], b64)
            return self.reply(400 if "error" in r else 200, r)
        except json.JSONDecodeError as e:
            return self.reply(400, {"error": f"ERR invalid JSON body: {e}"})
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            # Like Upstash when its backend is away: a server error, never a hang.
            return self.reply(500, {"error": f"ERR redis unavailable: {e}"})

    def multi_exec(self, cmds, b64):
        replies = run([["MULTI"], *cmds, ["EXEC"]])
        execd = replies[-1]
        if isinstance(execd, ResponseError):  # EXECABORT: a command was refused while queueing
            queued = [r for r in replies[1:-1] if isinstance(r, ResponseError)]
            detail = f" ({error_text(queued[0])})" if queued else ""
            return self.reply(400, {"error": error_text(execd) + detail})
        if execd is None:  # aborted by WATCH (not sent by this protocol, but be exact)
            return self.reply(400, {"error": "EXECABORT Transaction discarded"})
        return self.reply(200, [one(v, b64) for v in execd])

    do_GET = do_POST = do_PUT = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes bursts of connections (200 concurrent admissions) wait
    # for SYN retransmits; a deep queue keeps latency honest.
    request_queue_size = 1024


def main():
    global POOL, TOKEN
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8079, help="0 = any free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379")
    ap.add_argument("--token", default="local-dev-token")
    ap.add_argument("--port-file", help="write the port here once listening")
    a = ap.parse_args()
    # RESP2 like Upstash (flat arrays for HGETALL), raw replies (no redis-py callbacks: the
    # client decides types), bounded socket waits so a stalled Redis becomes an error.
    POOL = redis.ConnectionPool.from_url(a.redis, protocol=2, socket_timeout=10, socket_connect_timeout=2)
    TOKEN = a.token
    srv = Server((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(a.port_file + ".tmp", a.port_file)
    print(f"listening on http://{a.host}:{port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
