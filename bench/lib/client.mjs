// The load client: Node `http` with keep-alive, one agent per target, and no Accept-Encoding
// header (miniflare imitates the edge's gzip and would buffer a compressible body until the
// end, hiding the real streaming path). Every response is checked before its timing counts.
import http from "node:http";

export function target(name, base, { token, headers = {}, maxSockets = 64 } = {}) {
  const u = new URL(base);
  return { name, host: u.hostname, port: Number(u.port), prefix: u.pathname.replace(/\/$/, ""), token, headers, agent: new http.Agent({ keepAlive: true, maxSockets, scheduling: "fifo" }) };
}

/**
 * One request. Resolves { status, ttfbMs, totalMs, body (Buffer) }; times are from just before
 * the request is written to the first body byte and to the end of the body.
 */
export function request(t, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    const headers = { host: `${t.host}:${t.port}`, ...t.headers };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = payload.length;
    }
    if (t.token) headers.authorization = `Bearer ${t.token}`;
    const t0 = process.hrtime.bigint();
    let ttfb = null;
    const req = http.request({ host: t.host, port: t.port, method, path: t.prefix + path, headers, agent: t.agent }, (res) => {
      const parts = [];
      res.on("data", (d) => {
        if (ttfb === null) ttfb = process.hrtime.bigint();
        parts.push(d);
      });
      res.on("end", () => {
        const end = process.hrtime.bigint();
        resolve({ status: res.statusCode, headers: res.headers, ttfbMs: Number((ttfb ?? end) - t0) / 1e6, totalMs: Number(end - t0) / 1e6, body: Buffer.concat(parts) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** Run `fn(i)` with `concurrency` workers until `count` calls or `untilMs` elapsed. */
export async function pool({ concurrency, count = Infinity, durationMs = Infinity }, fn) {
  let next = 0;
  const stopAt = performance.now() + durationMs;
  const worker = async () => {
    while (next < count && performance.now() < stopAt) await fn(next++);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { done: next, elapsedMs: performance.now() - t0 };
}

export function close(...targets) {
  for (const t of targets) t.agent.destroy();
}
