// The runtime's floor, for comparison with the gateway in the same workerd build: a Worker with
// no logic that forwards to the origin (env.ORIGIN). Run by bench/gateway-host.mjs in floor mode.
//   /pipe/...  returns the origin's response as is: workerd moves the body natively, no JS per chunk
//   /js/...    the same body through a JS TransformStream: one JS call per chunk, no parsing
//   /health    answers without a subrequest
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === "/health") return new Response("ok");
    const m = url.pathname.match(/^\/(pipe|js)(\/.*)$/);
    if (!m) return new Response("not found", { status: 404 });
    const upstream = await fetch(env.ORIGIN + m[2], { method: req.method, headers: { "content-type": "application/json" }, body: req.body });
    if (m[1] === "pipe") return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    const headers = new Headers(upstream.headers);
    headers.set("content-encoding", "identity");
    return new Response(upstream.body.pipeThrough(new TransformStream({ transform: (chunk, c) => c.enqueue(chunk) })), { status: upstream.status, headers });
  },
};
