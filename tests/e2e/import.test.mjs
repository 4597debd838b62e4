// `make import-maestro` (issue 23, migration): a database with Model Maestro's schema and a
// realistic data set (tests/fixtures/model-maestro/), imported into a fresh gateway through its
// admin API: a dry run writes nothing, the real run carries users (new tokens in a mode-600 CSV),
// allow-lists, limits, nodes (keys re-sealed, bedrock credentials checked by a SigV4-verifying
// fake, priority inverted, unsupported types skipped),
// mappings with node scope, groups, model config (without the deepseek tool stripping), tool sets,
// system prompts and settings; a second run changes nothing (not one audit row); imported tokens
// reach the fake origins with the imported node keys, mappings and prompts.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setup, pg, uniqueName, adminClient, ADMIN_TOKEN, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { startBedrock } from "./fake-bedrock.mjs";
import { ROOT } from "../../devtools/gateway.mjs";

const FIX = path.join(ROOT, "tests/fixtures/model-maestro");
const SECRETS = ["sk-vllm-secret-0123456789", "brave-search-secret-key", "google-refresh-secret", "aws-secret-key-value", "cursor-key-secret", "plaintext-"];
let env, admin, src, A, B, C, BR, dir;
let csv1;
const tokens = {};
let runs = 0;
const ARTIFACTS = path.join(ROOT, "tests/artifacts");

/** One importer run; its output is also kept in tests/artifacts/import-<n>.log (tokens never print). */
function run(extra = {}, args = []) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, "scripts/import-maestro.mjs"), ...args],
      { cwd: dir, env: { ...process.env, DATABASE: src.url, ADMIN_URL: env.url, ADMIN_TOKEN, DRY_RUN: "", PRESETS: "", ...extra }, timeout: 120_000 },
      (err, stdout, stderr) => {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        fs.writeFileSync(path.join(ARTIFACTS, `import-${++runs}.log`), stdout + stderr);
        resolve({ code: err ? err.code : 0, out: stdout + stderr });
      },
    );
  });
}
const auditTotal = async () => (await admin.get("/audit-logs?limit=1")).total;
const readCsv = (file) =>
  fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split(","))
    .map(([username, token, prefix]) => ({ username, token, prefix }));

/** A chat request with a user token; retried while the new snapshot is not live yet (status != want). */
async function chat(token, model, want = 200) {
  let last;
  for (let i = 0; i < 40; i++) {
    const r = await fetch(`${env.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
    last = { status: r.status, body: await r.text() };
    if (r.status === want) return last;
    await sleep(250);
  }
  return last;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "import-maestro-"));
  const cl = await pg();
  const name = uniqueName("maestro_src");
  src = { url: cl.createDatabase(name), psql: (sql) => cl.psql(sql, name) };
  for (const f of ["schema.sql", "data.sql"]) execFileSync("psql", [src.url, "-v", "ON_ERROR_STOP=1", "-qX", "-f", path.join(FIX, f)], { encoding: "utf8" });
  A = await startOrigin({ name: "gpu-a", kind: "ollama", models: ["llama3:latest", "qwen3:8b"] });
  B = await startOrigin({ name: "gpu-b", kind: "ollama", models: ["llama3:latest", "qwen3:8b"] });
  C = await startOrigin({ name: "vllm-c", kind: "openai", models: ["gpt-4o-mini"] });
  // The fixture's Bedrock credentials: the fake checks every signature made with the imported secret.
  BR = await startBedrock({ accessKeyId: "AKIAFAKEACCESSKEY", secretAccessKey: "aws-secret-key-value" });
  src.psql(`UPDATE ollama_nodes SET base_url = '${A.url}' WHERE name = 'gpu-a'; UPDATE ollama_nodes SET base_url = '${B.url}/' WHERE name = 'gpu-b'; UPDATE ollama_nodes SET base_url = '${C.url}', health_check_url = '${C.url}/v1/models' WHERE name = 'vllm-c'; UPDATE ollama_nodes SET base_url = '${BR.url}' WHERE name = 'bedrock-1'`);
  env = await setup({ name: "import" });
  admin = adminClient(env.url);
});

after(async () => {
  await env?.stop();
  for (const o of [A, B, C, BR]) await o?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("make import-maestro", () => {
  test("a dry run reports what it would do and writes nothing", async () => {
    const before = await auditTotal();
    const r = await run({ DRY_RUN: "1", TOKENS_CSV: path.join(dir, "dry.csv") });
    assert.equal(r.code, 0, r.out);
    for (const line of ["would create user alice", "would create user bob", "would create node gpu-a", "would create mapping coder", "would create group team", "would create model config deepseek", "would create tool set reviewers", "would update setting routing.default_context_length"]) {
      assert.ok(r.out.includes(line), `missing "${line}" in:\n${r.out}`);
    }
    assert.match(r.out, /node 'ag-1' \(antigravity\): .*terms-of-service/);
    assert.match(r.out, /node 'cursor-1' \(cursor\): .*third-party proxy/);
    assert.ok(r.out.includes("would create node bedrock-1"), r.out);
    assert.equal(await auditTotal(), before, "a dry run leaves no audit row");
    assert.equal((await admin.get("/users?include_deleted=true")).total, 0);
    assert.equal((await admin.get("/nodes")).total, 0);
    assert.equal((await admin.get("/model-mappings")).total, 0);
    assert.equal(fs.existsSync(path.join(dir, "dry.csv")), false, "no token file in a dry run");
  });

  test("the real run carries everything over, with new tokens in a mode-600 CSV", async () => {
    csv1 = path.join(dir, "tokens.csv");
    const r = await run({ TOKENS_CSV: csv1 });
    assert.equal(r.code, 0, r.out);
    for (const s of SECRETS) assert.ok(!r.out.includes(s), `output leaks ${s}`);

    // Users: new tokens (never the original's plaintext JWTs), only for active users.
    assert.equal(fs.statSync(csv1).mode & 0o777, 0o600);
    const rows = readCsv(csv1);
    assert.deepEqual(rows.map((x) => x.username).sort(), ["alice", "bob", "dave"]);
    for (const x of rows) {
      tokens[x.username] = x.token;
      assert.ok(!x.token.includes("plaintext"), "a new token, not the original's");
      assert.ok(!r.out.includes(x.token), "tokens go to the CSV only");
    }
    const users = Object.fromEntries((await admin.get("/users?include_deleted=true")).users.map((u) => [u.username, u]));
    assert.deepEqual(Object.keys(users).sort(), ["alice", "bob", "carol", "dave"]);
    assert.match(r.out, /user 'eve smith': usernames here are/);
    assert.equal(users.alice.has_all_models, true);
    assert.deepEqual([users.alice.request_limit, users.alice.token_limit], [1000, null]);
    assert.deepEqual(users.bob.models, ["fast", "smart", "team"]);
    assert.deepEqual([users.bob.request_limit, users.bob.token_limit], [100, 50000]);
    assert.equal(users.carol.is_deleted, true, "inactive there = deleted here");
    assert.deepEqual([users.dave.has_all_models, users.dave.models, users.dave.request_limit], [false, [], null]);

    // Nodes: types mapped, priority inverted (10,5,1,0 -> 0,5,9,10), key sealed, headers write-only.
    const nodes = Object.fromEntries((await admin.get("/nodes")).nodes.map((n) => [n.name, n]));
    assert.deepEqual(Object.keys(nodes).sort(), ["bedrock-1", "gpu-a", "gpu-b", "old-box", "vllm-c"]);
    // Bedrock (mode iam): the access key id shown, the secret re-sealed, and discovery at import
    // signed with it (the fake recomputed every signature).
    const br = nodes["bedrock-1"];
    assert.deepEqual([br.node_type, br.aws_region, br.aws_access_key_id, br.aws_secret_access_key_set, br.bedrock_auth, br.priority, br.code], ["bedrock", "us-east-1", "AKIAFAKEACCESSKEY", true, "sigv4", 7, "br"]);
    assert.ok(br.models.some((m) => m.model_name === "anthropic.claude-3-haiku-20240307-v1:0"), JSON.stringify(br.models));
    assert.ok(BR.requests.length > 0 && BR.requests.every((q) => q.auth === "sigv4"), JSON.stringify(BR.requests.map((q) => q.auth)));
    assert.deepEqual(["gpu-a", "gpu-b", "vllm-c", "old-box"].map((n) => nodes[n].priority), [0, 5, 9, 10]);
    assert.deepEqual(["gpu-a", "gpu-b", "vllm-c", "old-box"].map((n) => nodes[n].node_type), ["ollama", "ollama", "openai", "ollama"]);
    assert.equal(nodes["gpu-a"].code, "gpua");
    assert.deepEqual(nodes["gpu-a"].headers, { "X-Team": "[redacted]" });
    assert.equal(nodes["gpu-b"].base_url, B.url, "trailing slash dropped");
    assert.equal(nodes["gpu-b"].warmup_enabled, false);
    assert.equal(nodes["gpu-b"].weight, 50);
    assert.equal(nodes["vllm-c"].api_key_set, true);
    assert.deepEqual(nodes["vllm-c"].headers, { "X-Tenant": "[redacted]" }, "the original's x-skip-max-tokens-injection directive is not a header");
    assert.equal(nodes["vllm-c"].health_url, `${C.url}/v1/models`);
    assert.equal(nodes["old-box"].is_active, false);
    assert.match(r.out, /node priority inverted .*gpu-a 10->0/);
    // scoped_models: a pinned-only node here.
    assert.equal((await admin.get(`/nodes/${nodes["vllm-c"].id}/routing`)).pinned_only, true);
    assert.equal((await admin.get(`/nodes/${nodes["gpu-a"].id}/routing`)).pinned_only, false);

    // Node access as the original applied it: bob's node list {gpu-a, vllm-c} and his one model
    // rule on gpu-a leave him only gpu-a (there, a model rule closed every node without one).
    const bobNodes = await admin.get("/users/bob/nodes");
    assert.deepEqual(bobNodes.node_ids, [nodes["gpu-a"].id]);
    assert.deepEqual(bobNodes.node_models.map((m) => [m.node_id, m.model]), [[nodes["gpu-a"].id, "llama3:latest"]]);
    assert.match(r.out, /user 'bob': nodes vllm-c left out of the node list/);
    assert.deepEqual((await admin.get("/users/alice/nodes")).node_ids, [], "no rules there: every node");

    // Mappings with node scope; a scope of skipped nodes only skips the mapping.
    const mappings = Object.fromEntries((await admin.get("/model-mappings")).mappings.map((m) => [m.display_name, m]));
    assert.deepEqual(Object.keys(mappings).sort(), ["coder", "eyes", "fast", "smart"]);
    assert.deepEqual(mappings.coder.node_names, ["gpu-b"]);
    assert.deepEqual(mappings.smart.node_names, ["vllm-c"]);
    assert.deepEqual(mappings.fast.node_names, []);
    assert.equal(mappings.fast.context_length, 131072);
    assert.deepEqual(mappings.eyes.capabilities.sort(), ["completion", "vision"]);
    assert.match(r.out, /mapping 'gem': its node scope is only nodes that are not imported/);

    // Groups and members (member node preference in the original's order; <= 0 retries = default).
    const team = await admin.get("/model-groups/team");
    assert.deepEqual([team.strategy, team.list_in_catalog, team.max_failover_retries, team.description], ["priority", true, null, "Default coding group"]);
    assert.deepEqual(team.members.map((m) => m.model_name), ["fast", "smart"]);
    assert.deepEqual(team.members[0].preferred_node_ids, [nodes["gpu-a"].id, nodes["gpu-b"].id]);
    assert.equal(team.members[0].is_metadata_source, true);
    assert.equal(team.members[1].is_fallback_413, true);
    const vision = await admin.get("/model-groups/vision");
    assert.deepEqual(vision.members.map((m) => m.model_name), ["eyes"], "the member preferring only ag-1 is skipped");
    assert.equal(vision.max_failover_retries, 3);

    // Model config: the deepseek seed keeps its context length but no longer strips tools.
    const configs = Object.fromEntries((await admin.get("/model-config")).configs.map((c) => [c.model_prefix, c]));
    assert.deepEqual(configs.deepseek.unsupported_params, []);
    assert.equal(configs.deepseek.default_context_length, 163840);
    assert.deepEqual(configs.kimi.unsupported_params, ["top_p"]);
    assert.equal(configs.minimax.allowed_tools.length, 12);
    assert.deepEqual([configs.llama3.requests_per_minute, configs.llama3.max_context_length, configs.llama3.cost_multiplier], [null, 262144, 0.5]);
    assert.deepEqual([configs["mixtral:8x7b"].is_exact_match, configs["mixtral:8x7b"].maintenance_mode], [true, true]);
    assert.match(r.out, /! model config 'deepseek': unsupported_params tools, tool_choice not carried over/);

    const sets = Object.fromEntries((await admin.get("/tool-sets")).tool_sets.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(sets).sort(), ["full", "readonly", "reviewers", "standard"]);
    assert.equal(sets.full.tools, null);
    assert.deepEqual(sets.reviewers.tools, ["Read", "Grep"]);

    const prompts = (await admin.get("/system-prompts")).prompts.map((p) => `${p.scope_type}:${p.scope_value}:${p.is_active}`).sort();
    assert.deepEqual(prompts, ["group:team:false", "mapping:fast:true", "node:gpu-b:true", "user:bob:true"], "node id 2 became its name; the ag-1 prompt is skipped");

    const settings = Object.fromEntries((await admin.get("/settings")).settings.map((s) => [s.key, s.value]));
    assert.equal(settings["routing.default_context_length"], 65536);
    assert.deepEqual(settings["ollama.unsupported_params"], ["logit_bias", "logprobs", "top_logprobs", "user"]);
    for (const k of ["claude.streaming_enabled", "search.web_search_api_key", "tunnel.provider", "http_client.timeout", "grafana_llm_model"]) assert.match(r.out, new RegExp(`setting ${k.replace(/\./g, "\\.")}: unmapped`));

    // The original is only read.
    assert.equal(src.psql("SELECT count(*) FROM users WHERE token LIKE '%plaintext%'"), "5");
  });

  test("imported tokens, mappings, node scope, keys and prompts work end to end", async () => {
    const fast = await chat(tokens.bob, "fast");
    assert.equal(fast.status, 200, fast.body);
    const toA = A.requests.filter((q) => q.method === "POST" && q.body?.messages);
    assert.equal(toA.at(-1).body.model, "llama3:latest", "display name mapped to the real model on the preferred node (priority 0)");
    const system = JSON.stringify(toA.at(-1).body.messages);
    assert.match(system, /Answer briefly\./);
    assert.match(system, /Bob prefers Go\./);

    // "smart" lives on vllm-c, which bob's node access closes (as it did there); alice may use it.
    assert.equal((await chat(tokens.bob, "smart", 404)).status, 404);
    const smart = await chat(tokens.alice, "smart");
    assert.equal(smart.status, 200, smart.body);
    const toC = C.requests.filter((q) => q.method === "POST").at(-1);
    assert.equal(toC.body.model, "gpt-4o-mini");
    assert.equal(toC.headers.authorization, "Bearer sk-vllm-secret-0123456789", "the node key was re-sealed and is used");
    assert.equal(toC.headers["x-tenant"], "acme");

    const bBefore = B.requests.length;
    const coder = await chat(tokens.alice, "coder");
    assert.equal(coder.status, 200, coder.body);
    const toB = B.requests.slice(bBefore).filter((q) => q.method === "POST");
    assert.equal(toB.at(-1)?.body.model, "qwen3:8b", "a node-scoped mapping goes to its node, not the preferred gpu-a");

    const denied = await chat(tokens.dave, "fast", 404);
    assert.equal(denied.status, 404, "an empty allow-list allows nothing (hidden names are 404 here)");
  });

  test("a second run changes nothing and issues no token", async () => {
    const before = await auditTotal();
    const csv2 = path.join(dir, "tokens2.csv");
    const r = await run({ TOKENS_CSV: csv2 });
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /^[+~x] /m, r.out);
    assert.match(r.out, /user: 0 created, 0 updated, 4 unchanged/);
    assert.match(r.out, /node: 0 created, 0 updated, 5 unchanged/);
    assert.match(r.out, /No new user tokens/);
    assert.equal(fs.existsSync(csv2), false);
    assert.equal(await auditTotal(), before, "not one write");
    assert.equal((await chat(tokens.bob, "fast")).status, 200, "existing users keep their token");
  });

  test("a change in the original is synced on the next run (a returning user gets a new token)", async () => {
    src.psql("UPDATE user_limits SET request_limit = 200 WHERE user_id = 2; UPDATE users SET is_active = true WHERE username = 'carol'; UPDATE ollama_nodes SET priority = 7 WHERE name = 'gpu-b'");
    const csv3 = path.join(dir, "tokens3.csv");
    const dry = await run({ DRY_RUN: "1", TOKENS_CSV: csv3 });
    assert.match(dry.out, /would update user bob: limits/);
    const r = await run({ TOKENS_CSV: csv3 });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /updated user bob: limits/);
    assert.match(r.out, /updated user carol: reactivated \(new token\)/);
    assert.match(r.out, /updated node gpu-b: priority/);
    assert.deepEqual(readCsv(csv3).map((x) => x.username), ["carol"]);
    assert.equal((await admin.get("/users/bob")).request_limit, 200);
    assert.equal((await admin.get("/nodes")).nodes.find((n) => n.name === "gpu-b").priority, 3);
    assert.equal((await chat(readCsv(csv3)[0].token, "fast")).status, 200);
  });

  test("presets add the original's seed tool sets and model configs, never its tool-stripping deepseek", async () => {
    const r = await run({ DATABASE: "" }, ["--presets-only"]);
    assert.equal(r.code, 0, r.out);
    const sets = (await admin.get("/tool-sets")).tool_sets.map((t) => t.name).sort();
    assert.deepEqual(sets, ["basic", "extended", "full", "minimal", "readonly", "reviewers", "standard"]);
    const configs = Object.fromEntries((await admin.get("/model-config")).configs.map((c) => [c.model_prefix, c]));
    for (const p of ["minimax", "deepseek", "kimi", "gemini", "qwen3", "glm", "mistral", "cogito", "composer"]) assert.ok(configs[p], p);
    assert.deepEqual(configs.deepseek.unsupported_params, []);
    assert.deepEqual(configs.gemini.unsupported_params, ["top_p", "presence_penalty", "frequency_penalty"]);
    assert.equal(configs.kimi.description, "Kimi models", "an existing config is kept as it is");
    const before = await auditTotal();
    const again = await run({ DATABASE: "" }, ["--presets-only"]);
    assert.doesNotMatch(again.out, /^[+~x] /m, again.out);
    assert.equal(await auditTotal(), before);
  });

  test("an older Model Maestro (a table and columns missing) reads the same way", async () => {
    const cl = await pg();
    const name = uniqueName("maestro_old");
    const url = cl.createDatabase(name);
    execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qX", "-f", path.join(FIX, "schema.sql")], { encoding: "utf8" });
    cl.psql(
      `DROP TABLE system_prompts; ALTER TABLE ollama_nodes DROP COLUMN code, DROP COLUMN scoped_models; ALTER TABLE model_groups DROP COLUMN max_failover_retries;
       INSERT INTO ollama_nodes (name, base_url, priority) VALUES ('legacy', 'http://legacy.invalid:11434', 3);
       INSERT INTO model_groups (name) VALUES ('legacy-group');
       INSERT INTO users (username, token) VALUES ('frank', 'plaintext-frank');`,
      name,
    );
    const r = await run({ DATABASE: url, DRY_RUN: "1" });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /tables not in this database \(older Model Maestro\), read as empty: system_prompts/);
    for (const line of ["would create user frank", "would create node legacy", "would create group legacy-group"]) assert.ok(r.out.includes(line), `missing "${line}" in:\n${r.out}`);
  });

  test("a node the gateway refuses fails what is scoped to it, never widens it; re-running recovers", async () => {
    const env2 = await setup({ name: "import2" });
    try {
      const admin2 = adminClient(env2.url);
      const squatter = await admin2.post("/nodes", { name: "squatter", base_url: "http://squatter.invalid:1", code: "vllmc" }, 201);
      const first = await run({ ADMIN_URL: env2.url, TOKENS_CSV: path.join(dir, "t-env2.csv") });
      assert.equal(first.code, 1, first.out);
      assert.match(first.out, /^x node vllm-c: .*409/m);
      assert.match(first.out, /^x mapping smart: .*node 'vllm-c' is not on the gateway/m);
      const names = (await admin2.get("/model-mappings")).mappings.map((m) => m.display_name).sort();
      assert.deepEqual(names, ["coder", "eyes", "fast"], "smart is not made global");
      await admin2.del(`/nodes/${squatter.id}`, 204);
      const again = await run({ ADMIN_URL: env2.url, TOKENS_CSV: path.join(dir, "t-env2.csv") });
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /created node vllm-c/);
      assert.deepEqual((await admin2.get("/model-mappings/smart")).node_names, ["vllm-c"]);
      assert.match(again.out, /No new user tokens/, "users made by the first run keep their tokens");
    } finally {
      await env2.stop();
    }
  });
});
