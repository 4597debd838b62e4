// The runtime's floor, for comparison with the gateway in the same workerd build: a Worker with
// no logic that forwards to the origin (env.ORIGIN). Run by bench/gateway-host.mjs in floor mode.
//   /pipe/...  returns the origin's response as is: workerd moves the body natively, no JS per chunk
//   /js/...    the same body through a JS TransformStream: one JS call per chunk, no parsing
//   /health    answers without a subrequest
// Per-chunk structures a Worker can use to see (and rewrite) every chunk, measured by
// bench/stream-cpu.mjs to choose the gateway's streaming path:
//   /rid/...     a reader.read() loop writing into an IdentityTransformStream (workerd-native, no
//                JS controller), awaiting every write (backpressure from the client)
//   /ridcopy/... the same, writing a fresh copy of each chunk (what a wasm transform hands back)
//   /ridready/...the same loop, not awaiting writes, only `writer.ready`
//   /rstart/...  the reader loop enqueueing into a JS ReadableStream created with start()
//   /rpull/...   a pull-based JS ReadableStream (one read per pull, like wasm-streams' source)
//   /rbytes/...  the pull-based source as a byte stream (type: "bytes")
//   /ridfire/... the reader loop writing without awaiting anything (no backpressure)
//   /rread/...   reads and drops every chunk and answers with a fixed body (the read alone)
//   /ridbyob/... /rid with a BYOB reader reading into one reused buffer
const KINDS = "pipe|js|rid|ridbyob|ridcopy|ridready|ridfire|rread|rstart|rpull|rbytes";

async function pumpIdentity(reader, writer, { copy = false, wait = "write" } = {}) {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = copy ? value.slice() : value;
      if (wait === "write") await writer.write(chunk);
      else if (wait === "none") writer.write(chunk).catch(() => {});
      else {
        writer.write(chunk).catch(() => {});
        if (writer.desiredSize <= 0) await writer.ready;
      }
    }
    await writer.close();
  } catch (e) {
    reader.cancel(e).catch(() => {});
    writer.abort(e).catch(() => {});
  }
}

async function pumpByob(reader, writer) {
  let buf = new ArrayBuffer(16384);
  try {
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buf));
      if (done) break;
      await writer.write(value.slice());
      buf = value.buffer;
    }
    await writer.close();
  } catch (e) {
    reader.cancel(e).catch(() => {});
    writer.abort(e).catch(() => {});
  }
}

function body(kind, upstream) {
  switch (kind) {
    case "ridbyob": {
      const { readable, writable } = new IdentityTransformStream();
      pumpByob(upstream.getReader({ mode: "byob" }), writable.getWriter());
      return readable;
    }
    case "pipe":
      return upstream;
    case "js":
      return upstream.pipeThrough(new TransformStream({ transform: (chunk, c) => c.enqueue(chunk) }));
    case "rid":
    case "ridcopy":
    case "ridready":
    case "ridfire": {
      const { readable, writable } = new IdentityTransformStream();
      pumpIdentity(upstream.getReader(), writable.getWriter(), { copy: kind === "ridcopy", wait: { ridready: "ready", ridfire: "none" }[kind] ?? "write" });
      return readable;
    }
    case "rstart": {
      const reader = upstream.getReader();
      return new ReadableStream({
        start(c) {
          (async () => {
            try {
              for (;;) {
                const { done, value } = await reader.read();
                if (done) return c.close();
                c.enqueue(value);
              }
            } catch (e) {
              c.error(e);
            }
          })();
        },
        cancel: (r) => reader.cancel(r),
      });
    }
    case "rpull":
    case "rbytes": {
      const reader = upstream.getReader();
      return new ReadableStream({
        type: kind === "rbytes" ? "bytes" : undefined,
        async pull(c) {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        },
        cancel: (r) => reader.cancel(r),
      });
    }
  }
}

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === "/health") return new Response("ok");
    const m = url.pathname.match(new RegExp(`^/(${KINDS})(/.*)$`));
    if (!m) return new Response("not found", { status: 404 });
    const upstream = await fetch(env.ORIGIN + m[2], { method: req.method, headers: { "content-type": "application/json" }, body: req.body });
    if (m[1] === "rread") {
      // The answer must still look like the origin's, so it is read whole, chunk by chunk, then sent.
      const reader = upstream.body.getReader();
      const parts = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
      }
      return new Response(new Blob(parts), { status: upstream.status, headers: upstream.headers });
    }
    if (m[1] === "pipe") return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    const headers = new Headers(upstream.headers);
    headers.set("content-encoding", "identity");
    return new Response(body(m[1], upstream.body), { status: upstream.status, headers });
  },
};
