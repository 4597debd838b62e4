// Foundation: the built Worker runs in workerd against a real Postgres; migrations are
// applied automatically, exactly once, also when two runtimes start on a fresh database at once.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, ROOT } from "../../devtools/gateway.mjs";
import { pg, uniqueName, defaultVars, getJson } from "./helpers.mjs";

const stops = [];
// Every file in migrations/ is applied; the schema version is the highest one.
const MIGRATION_FILES = fs.readdirSync(path.join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort();
const SCHEMA_VERSION = Number(MIGRATION_FILES.at(-1).slice(0, 4));
after(async () => {
  for (const s of stops) await s();
});

test("liveness needs nothing; readiness reports database, KV and Durable Objects", async () => {
  const cl = await pg();
  const db = uniqueName("found");
  const gw = await startGateway({ databaseUrl: cl.createDatabase(db), vars: defaultVars });
  stops.push(() => gw.stop());
  const live = await getJson(`${gw.url}/health`);
  assert.equal(live.status, 200);
  assert.deepEqual(live.body, { status: "ok" });
  const ready = await getJson(`${gw.url}/health/ready`);
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal(ready.body.status, "ready");
  assert.equal(ready.body.checks.database.up, true);
  assert.equal(ready.body.checks.database.schema_version, SCHEMA_VERSION);
  assert.equal(ready.body.checks.kv.up, true);
  assert.equal(ready.body.checks.durable_objects.up, true);
  // The schema is really there.
  assert.equal(cl.psql("SELECT count(*) FROM schema_migrations", db), String(MIGRATION_FILES.length));
  assert.match(cl.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", db), /usage_records/);
});

test("readiness is 503 with a reason when the database is unreachable", async () => {
  const gw = await startGateway({ databaseUrl: "postgres://postgres:postgres@127.0.0.1:9/nowhere", vars: defaultVars });
  stops.push(() => gw.stop());
  const ready = await getJson(`${gw.url}/health/ready`);
  assert.equal(ready.status, 503);
  assert.equal(ready.body.checks.database.up, false);
  assert.match(ready.body.checks.database.error, /database unavailable/);
});

test("migrations are concurrent-safe: two runtimes on one fresh database apply them once", async () => {
  const cl = await pg();
  const db = uniqueName("race");
  const url = cl.createDatabase(db);
  const [a, b] = await Promise.all([startGateway({ databaseUrl: url, vars: defaultVars }), startGateway({ databaseUrl: url, vars: defaultVars })]);
  stops.push(() => a.stop(), () => b.stop());
  const results = await Promise.all([...Array(4)].flatMap(() => [getJson(`${a.url}/health/ready`), getJson(`${b.url}/health/ready`)]));
  for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(cl.psql("SELECT count(*) FROM schema_migrations", db), String(MIGRATION_FILES.length));
});

test("migrations are idempotent when applied again by hand", async () => {
  const cl = await pg();
  const db = uniqueName("idem");
  cl.createDatabase(db);
  const { execFileSync } = await import("node:child_process");
  for (let i = 0; i < 2; i++) {
    for (const f of MIGRATION_FILES) {
      const sql = fs.readFileSync(path.join(ROOT, "migrations", f), "utf8");
      execFileSync("psql", [cl.url(db), "-v", "ON_ERROR_STOP=1", "-qX", "-1", "-c", sql]);
    }
  }
  assert.equal(cl.psql("SELECT count(*) FROM schema_migrations", db), String(MIGRATION_FILES.length));
  // And the Worker accepts a database migrated by hand.
  const gw = await startGateway({ databaseUrl: cl.url(db), vars: defaultVars });
  stops.push(() => gw.stop());
  assert.equal((await getJson(`${gw.url}/health/ready`)).status, 200);
});
