#!/usr/bin/env node
// Load a price list into a running gateway through its admin API (POST /admin/prices/import).
//   make prices FILE=prices/sample.json [ADMIN_URL=https://gw.example ADMIN_TOKEN=...]
//   node scripts/prices.mjs <file>
// The file: {"currency": "USD", "source": "...", "prices": [{"model", "node"?, "input", "output",
// "cache_read"?, "cache_write"?}, ...]}, amounts in currency per million tokens (README, "Prices
// file"). Rows are upserted on (model, node): re-running it changes nothing; rows it does not
// name stay. Without ADMIN_URL it targets `make dev` (http://127.0.0.1:8787, dev-admin-token).
import fs from "node:fs";

const file = process.argv[2] || process.env.FILE;
const die = (m) => {
  console.error(`prices: ${m}`);
  process.exit(1);
};
if (!file) die("usage: make prices FILE=prices/sample.json [ADMIN_URL=... ADMIN_TOKEN=...]");
const url = (process.env.ADMIN_URL || "http://127.0.0.1:8787").replace(/\/+$/, "");
const token = process.env.ADMIN_TOKEN || (process.env.ADMIN_URL ? "" : "dev-admin-token");
if (!token) die("set ADMIN_TOKEN (the gateway's ADMIN_TOKEN or an admin session token)");
let list;
try {
  list = JSON.parse(fs.readFileSync(file, "utf8"));
} catch (e) {
  die(`${file}: ${e.message}`);
}
if (!Array.isArray(list?.prices)) die(`${file}: expected {"prices": [...]} (see prices/sample.json)`);
const body = { prices: list.prices, source: list.source ?? file.split("/").pop(), ...(list.currency ? { currency: list.currency } : {}) };
const r = await fetch(`${url}/admin/prices/import`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const text = await r.text();
if (r.status !== 200) die(`${url} answered ${r.status}: ${text}`);
const out = JSON.parse(text);
console.log(`prices: imported ${out.imported} prices (${out.currency}) from ${file} into ${url}`);
