// Preload (`node --require`, or NODE_OPTIONS) for processes the deploy test starts: any socket
// to a host that is not loopback, and any DNS lookup of such a name, fails at once and is
// appended to $LOOPBACK_GUARD_LOG, so the test sees (and fails on) every attempt to reach out
// instead of silently talking to the real Cloudflare, npm or telemetry hosts.
const net = require("node:net");
const dns = require("node:dns");
const fs = require("node:fs");

const LOG = process.env.LOOPBACK_GUARD_LOG;
const loopback = (h) => h === undefined || h === null || h === "" || h === "localhost" || /^127\./.test(h) || h === "::1" || h === "[::1]" || h === "0.0.0.0";
function refuse(what) {
  const line = `${process.pid} ${process.argv.slice(1, 3).join(" ")}: ${what}\n`;
  if (LOG) fs.appendFileSync(LOG, line);
  const e = new Error(`loopback-guard: refused ${what}`);
  e.code = "ECONNREFUSED";
  return e;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let opts = args[0];
  if (Array.isArray(opts)) opts = opts[0]; // internal normalized form
  let host, port;
  if (opts && typeof opts === "object") {
    if (opts.path) return connect.apply(this, args); // unix sockets
    host = opts.host;
    port = opts.port;
  } else {
    port = args[0];
    host = typeof args[1] === "string" ? args[1] : undefined;
  }
  if (!loopback(host)) {
    const err = refuse(`connect ${host}:${port}`);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};

for (const mod of [dns, dns.promises]) {
  const lookup = mod.lookup;
  mod.lookup = function (host, ...rest) {
    if (loopback(host)) return lookup.call(this, host, ...rest);
    const err = refuse(`dns lookup ${host}`);
    if (mod === dns.promises) return Promise.reject(err);
    const cb = rest.find((a) => typeof a === "function");
    process.nextTick(() => cb && cb(err));
  };
}
