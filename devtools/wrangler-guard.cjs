// Preload for anything that runs miniflare (wrangler dev, our dev server, the e2e tests):
//   NODE_OPTIONS="--require ./devtools/wrangler-guard.cjs"
// miniflare's local Hyperdrive proxy pipes client<->database sockets with no 'error' handlers,
// so one ECONNRESET/EPIPE on either side takes the whole Node process down. Give every
// socket->socket pipe an error handler that tears down the peer instead.
const net = require("node:net");
const origPipe = net.Socket.prototype.pipe;
net.Socket.prototype.pipe = function (dest, opts) {
  if (dest instanceof net.Socket && !this.__guarded) {
    this.__guarded = true;
    this.on("error", (e) => {
      if (process.env.WRANGLER_GUARD_DEBUG) console.error(`[guard] ${e.code}`);
      dest.destroy();
    });
    dest.on("error", () => this.destroy());
  }
  return origPipe.call(this, dest, opts);
};
