// The admin dashboard (admin-ui/dist) served the way Cloudflare Pages would: static files,
// index.html for anything else. `make dev` and the browser test use it. It can stamp the admin
// API base into index.html (<meta name="maestro-api-base">) so one build works against a
// gateway on any port without rebuilding.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT } from "./gateway.mjs";

export const UI_DIR = path.join(ROOT, "admin-ui");
export const UI_DIST = path.join(UI_DIR, "dist");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

function newest(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

/** True when dist/ is missing or older than any source that goes into it. */
export function uiStale() {
  const built = path.join(UI_DIST, "index.html");
  if (!fs.existsSync(built)) return true;
  const t = fs.statSync(built).mtimeMs;
  // The admin API's OpenAPI document too: the UI's types are generated from it.
  const inputs = ["src", "scripts", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "../src/admin/openapi.json"].map((f) => path.join(UI_DIR, f)).filter((f) => fs.existsSync(f));
  return inputs.some((f) => newest(f) > t);
}

/** Build admin-ui/dist with its own npm scripts (typecheck + vite). Throws with the output on failure. */
export function buildUi({ force = false, quiet = false } = {}) {
  if (!force && !uiStale()) return false;
  if (!fs.existsSync(path.join(UI_DIR, "node_modules"))) throw new Error("admin-ui/node_modules is missing: run scripts/setup.sh (npm ci in admin-ui)");
  const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: UI_DIR, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "error" } });
  if (r.status !== 0) throw new Error(`admin-ui build failed:\n${r.stdout}\n${r.stderr}`);
  if (!quiet) process.stdout.write(r.stdout.split("\n").filter((l) => /dist\/|built in/.test(l)).join("\n") + "\n");
  return true;
}

/**
 * @param {object} o
 * @param {number} [o.port]  0 = any free port
 * @param {string} [o.host]
 * @param {string | (() => string)} [o.apiBase]  stamped into index.html; omit to leave the build's default
 */
export async function startUiServer({ port = 0, host = "127.0.0.1", apiBase, root = UI_DIST } = {}) {
  const base = () => (typeof apiBase === "function" ? apiBase() : apiBase);
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" });
      return res.end();
    }
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    } catch {
      res.writeHead(400);
      return res.end();
    }
    let file = path.join(root, path.normalize(rel).replace(/^([/\\])+/, ""));
    if (!file.startsWith(root)) {
      res.writeHead(403);
      return res.end();
    }
    if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(root, "index.html");
    let body = fs.readFileSync(file);
    const type = TYPES[path.extname(file)] ?? "application/octet-stream";
    const isIndex = file.endsWith("index.html");
    if (isIndex && base()) {
      const meta = `<meta name="maestro-api-base" content="${base().replace(/"/g, "&quot;")}" />`;
      body = Buffer.from(body.toString("utf8").replace("</head>", `    ${meta}\n  </head>`));
    }
    // Hashed assets never change; index.html must always be fresh to pick up new builds.
    res.writeHead(200, { "content-type": type, "cache-control": isIndex ? "no-cache" : "public, max-age=31536000, immutable", "content-length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const url = `http://${host}:${server.address().port}`;
  return { url, server, close: () => new Promise((r) => server.close(() => r())) };
}
