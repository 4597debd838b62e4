// The admin dashboard in a real browser (Debian chromium driven by playwright-core) against the
// built Worker in workerd, real Postgres and a fake Ollama origin: log in, create a user and see
// its token once, add a node and discover it, map a model, build a group, send a request with
// the new user's token, and find it in the request log and on the dashboard. Every page is
// screenshotted into tests/artifacts/ui/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { setup, adminClient, getJson, waitForRows, ADMIN_TOKEN, ADMIN_USERNAME, ADMIN_PASSWORD } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { startBedrock } from "./fake-bedrock.mjs";
import { buildUi, startUiServer } from "../../devtools/ui-server.mjs";
import { ROOT } from "../../devtools/gateway.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = path.join(ROOT, "tests/artifacts/ui");

let env, admin, ui, origin, backup, context, page, profile;
let token;
const pageErrors = [];

async function shot(name) {
  await page.waitForFunction(() => !document.querySelector(".loading"), null, { timeout: 10_000 }).catch(() => {});
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function go(route) {
  await page.goto(`${ui.url}/#${route}`);
  await page.waitForLoadState("networkidle");
}

const heading = (name) => page.getByRole("heading", { level: 1, name });

/** Do something in the page and wait for the admin call it makes (mutations are async). */
async function andWait(method, pathPart, action) {
  const done = page.waitForResponse((r) => r.request().method() === method && r.url().includes(`/admin${pathPart}`));
  await action();
  const r = await done;
  assert.ok(r.status() < 400, `${method} ${pathPart} -> ${r.status()}`);
  return r;
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  buildUi({ quiet: true }); // no-op when scripts/test.sh already built it
  fs.mkdirSync(SHOTS, { recursive: true });
  ui = await startUiServer({ apiBase: () => env.url });
  env = await setup({ name: "ui", vars: { ADMIN_UI_ORIGINS: ui.url } });
  admin = adminClient(env.url);
  origin = await startOrigin({ name: "ui-origin", kind: "ollama", models: ["llama3:latest", "qwen2.5-coder:7b"] });
  backup = await startOrigin({ name: "ui-backup", kind: "ollama", models: ["llama3:latest"] });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "maestro-ui-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("dialog", (d) => d.accept());
});

after(async () => {
  await context?.close().catch(() => {});
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  await ui?.close();
  await origin?.stop();
  await backup?.stop();
  await env?.stop();
});

test("CORS: the dashboard's origin gets preflight answers; other origins are refused", async () => {
  const pre = await fetch(`${env.url}/admin/users`, { method: "OPTIONS", headers: { origin: ui.url, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), ui.url);
  assert.match(pre.headers.get("access-control-allow-headers"), /authorization/);
  const other = await fetch(`${env.url}/admin/users`, { headers: { origin: "http://evil.example", authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(other.status, 403);
});

test("login: API base prefilled, wrong password shown in place, then the dashboard", async () => {
  await page.goto(ui.url);
  await page.waitForURL(/#\/login$/);
  assert.equal(await page.getByLabel("API base URL").inputValue(), env.url);
  await shot("01-login");
  await page.getByLabel("Username").fill(ADMIN_USERNAME);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "HTTP 401" }).waitFor();
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading("Dashboard").waitFor();
  assert.match(page.url(), /#\/dashboard$/);
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("maestro.session")));
  assert.ok(stored.token && stored.expires_at, "session token kept in sessionStorage");
});

test("create a user: the token is shown once and nowhere after the dialog closes", async () => {
  await go("/users");
  await page.getByText("No users yet").waitFor();
  await page.getByRole("button", { name: "Create user" }).click();
  const dialog = page.getByRole("dialog", { name: "Create user" });
  await dialog.getByLabel("Username").fill("alice-ui");
  await dialog.getByLabel("Access to all models").check();
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  const reveal = page.getByRole("dialog", { name: "Token for alice-ui" });
  token = await reveal.getByLabel("New user token").inputValue();
  assert.ok(token.split(".").length === 3, `a JWT: ${token}`);
  await reveal.getByRole("button", { name: "Copy token" }).click();
  await reveal.getByRole("button", { name: "Copy token" }).getByText("Copied ✓").waitFor();
  await shot("02-users-token-reveal");

  // The token works against the gateway.
  const models = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(models.status, 200);

  await reveal.getByRole("button", { name: "Done, I copied it" }).click();
  await reveal.waitFor({ state: "detached" });
  const row = page.getByRole("row", { name: /alice-ui/ });
  await row.waitFor();
  assert.ok(!(await page.content()).includes(token), "token gone from the page after closing");
  await page.reload();
  await page.getByRole("row", { name: /alice-ui/ }).waitFor();
  assert.ok(!(await page.content()).includes(token), "token not shown after a reload");
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!storage.includes(token), "token never stored by the UI");
  await shot("03-users");
});

test("add a node pointing at the fake origin, discover its models, reorder priority, pull", async (t) => {
  await go("/nodes");
  await page.getByText("No nodes yet").waitFor();
  await page.getByRole("button", { name: "Add node" }).click();
  const dialog = page.getByRole("dialog", { name: "Add node" });
  await dialog.getByLabel("Name", { exact: true }).fill("local-ollama");
  await dialog.getByLabel("Base URL").fill(origin.url);
  await dialog.getByLabel("Priority").fill("10");
  await dialog.getByRole("button", { name: "Add node" }).click();
  await dialog.waitFor({ state: "detached" });
  const card = page.getByRole("group", { name: "Node local-ollama" });
  await card.waitFor();
  await card.getByRole("button", { name: "Discover models on local-ollama" }).click();
  await card.getByText("Discovered 2 models").waitFor();
  await card.getByRole("button", { name: "Health check local-ollama" }).click();
  await card.getByText(/Healthy answer in/).waitFor();

  // A second node (made through the API) moved above the first with the keyboard-friendly control.
  const b = await admin.post("/nodes", { name: "backup-ollama", node_type: "ollama", base_url: backup.url, priority: 20 }, 201);
  await page.reload();
  await andWait("PATCH", "/nodes/batch/priority", () => page.getByRole("button", { name: "Move backup-ollama up" }).click());
  const after1 = (await admin.get("/nodes")).nodes;
  assert.deepEqual(after1.map((n) => n.name), ["backup-ollama", "local-ollama"]);
  assert.deepEqual(after1.map((n) => n.priority), [1, 2]);
  // And back by dragging (PATCH /admin/nodes/batch/priority).
  await andWait("PATCH", "/nodes/batch/priority", () => page.locator('li[data-name="local-ollama"] .grip').dragTo(page.locator('li[data-name="backup-ollama"]')));
  assert.equal(await page.locator("ol.sortable li").first().getAttribute("data-name"), "local-ollama");
  const after2 = (await admin.get("/nodes")).nodes;
  assert.deepEqual(after2.map((n) => n.name), ["local-ollama", "backup-ollama"]);
  await admin.post(`/nodes/${b.id}/discover`, {}, 200);
  await page.reload();
  await shot("04-nodes");

  const id = after2[0].id;
  await go(`/nodes/${id}`);
  await page.getByRole("table", { name: "Node models" }).getByText("qwen2.5-coder:7b").waitFor();
  await shot("05-node-detail");

  // Pull with progress from the NDJSON stream (or, where the API lacks it, its error in place).
  await page.getByLabel("Model to pull").fill("tinyllama:latest");
  await page.getByRole("button", { name: "Pull", exact: true }).click();
  const pull = page.getByRole("region", { name: "Pull a model to this node" });
  const progress = pull.getByRole("group", { name: "Pull progress" });
  await progress.getByText("success").or(pull.getByRole("alert")).first().waitFor();
  if (await progress.getByText("success").isVisible()) {
    assert.equal(await progress.getByRole("progressbar").getAttribute("value"), "100");
  } else {
    t.diagnostic(`pull not available from the API yet: ${await pull.getByRole("alert").first().innerText()}`);
  }
  await shot("05b-node-pull");
  await go("/nodes");
  await page.getByRole("tab", { name: "Model distribution" }).click();
  await page.getByRole("table", { name: "Model distribution" }).getByText("llama3:latest").waitFor();
  await shot("06-nodes-distribution");
});

test("node header values: set in the form, shown masked, edited by keeping or replacing a line", async () => {
  await go("/nodes");
  await page.getByRole("tab", { name: "Nodes", exact: true }).click();
  const card = page.getByRole("group", { name: "Node backup-ollama" });
  await card.getByRole("button", { name: "Edit backup-ollama" }).click();
  let dialog = page.getByRole("dialog", { name: "Edit node backup-ollama" });
  await dialog.getByLabel("Extra headers").fill("X-Custom-Auth: ui-secret-7777\nX-Team: red");
  await andWait("PATCH", `/nodes/`, () => dialog.getByRole("button", { name: "Save node" }).click());
  await dialog.waitFor({ state: "detached" });
  // A fresh load, so the form below is filled from what the API now answers.
  await page.reload();
  await card.getByRole("button", { name: "Edit backup-ollama" }).click();
  dialog = page.getByRole("dialog", { name: "Edit node backup-ollama" });
  assert.equal(await dialog.getByLabel("Extra headers").inputValue(), "X-Custom-Auth: [redacted]\nX-Team: [redacted]");
  await dialog.getByLabel("Extra headers").fill("X-Custom-Auth: [redacted]\nX-Team: blue");
  await andWait("PATCH", `/nodes/`, () => dialog.getByRole("button", { name: "Save node" }).click());
  await dialog.waitFor({ state: "detached" });
  const node = (await admin.get("/nodes")).nodes.find((n) => n.name === "backup-ollama");
  assert.deepEqual(node.headers, { "X-Custom-Auth": "[redacted]", "X-Team": "[redacted]" });
  await go(`/nodes/${node.id}`);
  await page.getByText("X-Custom-Auth: [redacted]").waitFor();
  assert.ok(!(await page.content()).includes("ui-secret-7777"), "the value is never shown");
  await shot("05c-node-headers");
  // The origin gets the kept value and the replaced one.
  await admin.post(`/nodes/${node.id}/discover`, {}, 200);
  const sent = backup.requests.filter((q) => q.path === "/api/tags").at(-1).headers;
  assert.equal(sent["x-custom-auth"], "ui-secret-7777");
  assert.equal(sent["x-team"], "blue");
});

test("node routing options: set in the node form, stored by the API, shown on the node page, edited back", async () => {
  const node = (await admin.get("/nodes")).nodes.find((n) => n.name === "backup-ollama");
  await go("/nodes");
  const card = page.getByRole("group", { name: "Node backup-ollama" });
  await card.getByRole("button", { name: "Edit backup-ollama" }).click();
  let dialog = page.getByRole("dialog", { name: "Edit node backup-ollama" });
  await dialog.getByLabel("Code").fill("bk");
  await dialog.getByLabel("Pinned requests only").check();
  await dialog.getByLabel("Route unknown models").check();
  await dialog.getByLabel("Default max_tokens").fill("256");
  await dialog.getByLabel("Parameters to drop").fill("logprobs, user");
  await andWait("PUT", `/nodes/${node.id}/routing`, () => dialog.getByRole("button", { name: "Save node" }).click());
  await dialog.waitFor({ state: "detached" });
  const r = await admin.get(`/nodes/${node.id}/routing`);
  assert.deepEqual([r.code, r.pinned_only, r.route_unknown_models, r.request_rules], ["bk", true, true, { default_max_tokens: 256, drop_params: ["logprobs", "user"] }]);

  await go(`/nodes/${node.id}`);
  const facts = page.getByLabel("Routing options");
  await facts.getByText("node:bk:…").waitFor();
  await facts.getByText("tried here until discovery lists them").waitFor();
  await facts.getByText("logprobs, user").waitFor();
  await shot("05d-node-routing");

  // The form reads the stored options back; turning pinning off and clearing the rules saves that.
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  dialog = page.getByRole("dialog", { name: "Edit node backup-ollama" });
  assert.equal(await dialog.getByLabel("Pinned requests only").isChecked(), true);
  assert.equal(await dialog.getByLabel("Default max_tokens").inputValue(), "256");
  assert.equal(await dialog.getByLabel("Parameters to drop").inputValue(), "logprobs, user");
  await dialog.getByLabel("Pinned requests only").uncheck();
  await dialog.getByLabel("Default max_tokens").fill("");
  await dialog.getByLabel("Parameters to drop").fill("");
  await andWait("PUT", `/nodes/${node.id}/routing`, () => dialog.getByRole("button", { name: "Save node" }).click());
  await dialog.waitFor({ state: "detached" });
  const back = await admin.get(`/nodes/${node.id}/routing`);
  assert.deepEqual([back.pinned_only, back.route_unknown_models, back.request_rules], [false, true, { default_max_tokens: null, drop_params: [] }]);
  await admin.put(`/nodes/${node.id}/routing`, { route_unknown_models: false }, 200);
});

test("a bedrock node through the node dialog: region and access keys, discovery signed with them, secrets never shown", async () => {
  const SESSION = "IQoJb3JpZ2luX2VjEFAKE//ui+session==";
  const B = await startBedrock({ sessionToken: SESSION });
  let id;
  try {
    await go("/nodes");
    await page.getByRole("button", { name: "Add node" }).click();
    const dialog = page.getByRole("dialog", { name: "Add node" });
    await dialog.getByLabel("Name", { exact: true }).fill("bedrock-ui");
    await dialog.getByLabel("Type").selectOption("bedrock");
    await dialog.getByLabel("AWS region").fill("us-east-1");
    await dialog.getByLabel("Base URL").fill(B.url);
    await dialog.getByLabel("Access key ID").fill(B.accessKeyId);
    await dialog.getByLabel("Secret access key").fill(B.secretAccessKey);
    await dialog.getByLabel("Session token").fill(SESSION);
    await andWait("POST", "/nodes", () => dialog.getByRole("button", { name: "Add node" }).click());
    await dialog.waitFor({ state: "detached" });
    const n = (await admin.get("/nodes")).nodes.find((x) => x.name === "bedrock-ui");
    id = n.id;
    assert.deepEqual(
      [n.node_type, n.aws_region, n.aws_access_key_id, n.aws_secret_access_key_set, n.aws_session_token_set, n.api_key_set, n.bedrock_auth],
      ["bedrock", "us-east-1", B.accessKeyId, true, true, false, "sigv4"],
    );

    // Discovery reaches the fake, which recomputes the SigV4 signature (session token included).
    const card = page.getByRole("group", { name: "Node bedrock-ui" });
    await card.getByRole("button", { name: "Discover models on bedrock-ui" }).click();
    await card.getByText(/^Discovered \d+ models/).waitFor();
    assert.ok(B.requests.length > 0, "discovery called the fake");
    assert.deepEqual([...new Set(B.requests.map((r) => r.auth))], ["sigv4"]);
    assert.equal(B.requests[0].headers["x-amz-security-token"], SESSION);

    await go(`/nodes/${id}`);
    await page.getByText("SigV4 access keys").waitFor();
    await page.getByText(B.accessKeyId).waitFor();
    // A Bedrock API key, once stored, is what the node authenticates with.
    await page.getByRole("button", { name: "Edit", exact: true }).click();
    const edit = page.getByRole("dialog", { name: "Edit node bedrock-ui" });
    await edit.getByLabel("Bedrock API key").fill(B.apiKey);
    await andWait("PATCH", `/nodes/${id}`, () => edit.getByRole("button", { name: "Save node" }).click());
    await edit.waitFor({ state: "detached" });
    await page.getByText("the Bedrock API key (Bearer)").waitFor();
    const saved = await admin.get(`/nodes/${id}`);
    assert.deepEqual([saved.bedrock_auth, saved.api_key_set, saved.aws_secret_access_key_set], ["api_key", true, true], "the access keys are kept");
    const html = await page.content();
    for (const secret of [B.secretAccessKey, SESSION, B.apiKey]) assert.ok(!html.includes(secret), "a write-only credential never reaches the page");
    await shot("05e-node-bedrock");
  } finally {
    // The later tests count nodes and models: this one leaves none behind.
    if (id) await admin.del(`/nodes/${id}`);
    await B.stop();
  }
});

test("create a mapping and a group with a member", async () => {
  await go("/mappings");
  await page.getByText("No mappings").waitFor();
  await page.getByRole("button", { name: "Add mapping" }).click();
  const md = page.getByRole("dialog", { name: "Add mapping" });
  await md.getByLabel("Display name").fill("coder");
  await md.getByLabel("Real name").fill("qwen2.5-coder:7b");
  await md.getByLabel("Context length").fill("32K");
  await md.getByLabel("tools").check();
  await md.getByRole("button", { name: "Add mapping" }).click();
  await md.waitFor({ state: "detached" });
  await page.getByRole("row", { name: /coder.*qwen2\.5-coder:7b/ }).waitFor();
  await shot("07-mappings");

  await go("/groups");
  await page.getByRole("button", { name: "Create group" }).click();
  const gd = page.getByRole("dialog", { name: "Create group" });
  await gd.getByLabel("Group name").fill("team");
  await gd.getByLabel("Description").fill("coding assistants");
  await gd.getByRole("button", { name: "Create group" }).click();
  await heading("Group team").waitFor();
  await page.getByRole("button", { name: "Add member" }).click();
  const memd = page.getByRole("dialog", { name: "Add member to team" });
  await memd.getByLabel("Member model").fill("coder");
  await memd.getByLabel("Capability tags").fill("tools");
  await memd.getByLabel("Add preferred node").selectOption({ label: "local-ollama" });
  await memd.getByRole("button", { name: "Add member" }).click();
  await memd.waitFor({ state: "detached" });
  await page.getByRole("group", { name: "Member coder" }).waitFor();
  const g = await admin.get("/model-groups/team");
  assert.equal(g.members.length, 1);
  assert.equal(g.members[0].model_name, "coder");
  assert.deepEqual(g.members[0].capability_tags, ["tools"]);
  assert.equal(g.members[0].preferred_node_ids.length, 1);
  await shot("08-group-detail");
  await go("/groups");
  await page.getByRole("group", { name: "Group team" }).waitFor();
  await shot("09-groups");
});

test("a request with the new user's token shows in the request log and on the dashboard", async () => {
  const r = await getJson(`${env.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "team", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.choices[0].message.content, /Hello from ui-origin/);
  // The usage record reaches Postgres when its shard flushes (its own alarm, or a cron kick;
  // one cron run may kick other shards): wait for it, bounded.
  const rows = await waitForRows(env, "SELECT id FROM usage_records WHERE username = 'alice-ui'", (r) => r.length > 0);
  assert.ok(rows.length > 0, "the request's usage record reached Postgres");

  await go("/requests");
  const row = page.getByRole("table", { name: "Requests" }).getByRole("row").filter({ hasText: "alice-ui" }).first();
  await row.waitFor();
  assert.match(await row.innerText(), /team/, "the row shows the name the client asked for");
  await shot("10-request-log");

  await go("/dashboard");
  await page.getByRole("figure", { name: "Requests per day" }).waitFor();
  await page.getByRole("figure", { name: "Tokens per day" }).waitFor();
  const today = page.getByRole("group", { name: "Requests today" });
  await today.waitFor();
  assert.ok(Number((await today.innerText()).match(/\d+/)[0]) >= 1, "today's total counts the request");
  await page.getByRole("combobox", { name: "Top users period" }).selectOption("24h");
  await page.getByRole("table", { name: "Top users" }).getByText("alice-ui").waitFor();
  await page.getByRole("list", { name: "Top models by requests" }).getByText("team").waitFor();
  await shot("11-dashboard");
});

test("settings save exactly what the API expects and show field errors in place", async () => {
  await go("/settings");
  const input = page.getByLabel("routing.cooldown_ms", { exact: true });
  await input.fill("45000");
  await page.getByLabel("ollama.keep_alive", { exact: true }).fill("30m");
  await page.getByRole("button", { name: "Save 2 changes" }).click();
  await page.getByText("Saved 2 settings.").waitFor();
  const s = (await admin.get("/settings")).settings;
  assert.equal(s.find((x) => x.key === "routing.cooldown_ms").value, 45000);
  assert.equal(s.find((x) => x.key === "ollama.keep_alive").value, "30m");
  await input.fill("-5");
  await page.getByRole("button", { name: "Save 1 change" }).click();
  await page.getByRole("alert").filter({ hasText: "HTTP 400" }).waitFor();
  await shot("12-settings");
  await page.getByRole("button", { name: "Reset routing.cooldown_ms" }).click();
  await page.getByRole("button", { name: "Reset routing.cooldown_ms" }).waitFor({ state: "detached" });
  const s2 = (await admin.get("/settings")).settings;
  assert.equal(s2.find((x) => x.key === "routing.cooldown_ms").is_default, true);
});

test("user detail: model access, limits, usage and activity", async () => {
  await go("/users/alice-ui");
  await heading("User alice-ui").waitFor();
  await page.getByRole("switch", { name: "Access to all models" }).uncheck();
  await page.getByRole("checkbox", { name: /^coder/ }).check();
  await andWait("POST", "/users/alice-ui/models", () => page.getByRole("button", { name: "Save model access" }).click());
  const u = await admin.get("/users/alice-ui");
  assert.equal(u.has_all_models, false);
  assert.deepEqual(u.models, ["coder"]);
  await page.getByLabel("Request limit").fill("1000");
  await andWait("POST", "/users/alice-ui/limits", () => page.getByRole("button", { name: "Save limits" }).click());
  assert.equal((await admin.get("/users/alice-ui/limits")).request_limit, 1000);
  await shot("13-user-detail");
});

test("user node access: limited to some nodes, and to some models on a node, through the user page", async () => {
  const nodes = (await admin.get("/nodes")).nodes;
  const local = nodes.find((n) => n.name === "local-ollama");
  const backup = nodes.find((n) => n.name === "backup-ollama");
  const listed = async () => (await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })).body.data.map((m) => m.id);
  /** The gateway reads node access from its snapshot (refreshed every few seconds). */
  const eventually = async (what, ok) => {
    for (let i = 0; i < 40 && !ok(await listed()); i++) await new Promise((r) => setTimeout(r, 250));
    assert.ok(ok(await listed()), what);
  };
  await go("/users/alice-ui");
  const section = page.getByRole("region", { name: "Node access" });
  const only = section.getByRole("group", { name: /^Only these nodes/ });
  const save = () => andWait("PUT", "/users/alice-ui/nodes", () => section.getByRole("button", { name: "Save node access" }).click());

  // Only the backup node, which does not have the model behind "coder": alice loses it.
  await only.getByLabel("backup-ollama").check();
  assert.equal(await section.getByRole("group", { name: "Models on local-ollama" }).count(), 0, "rules only for nodes the user may use");
  await save();
  assert.deepEqual(await admin.get("/users/alice-ui/nodes"), { username: "alice-ui", node_ids: [backup.id], node_models: [] });
  await eventually("coder is gone from alice's list once she may only use backup-ollama", (ids) => !ids.includes("coder"));

  // The local node instead, and there only the model behind "coder".
  await only.getByLabel("backup-ollama").uncheck();
  await only.getByLabel("local-ollama").check();
  const onLocal = section.getByRole("group", { name: "Models on local-ollama" });
  await onLocal.getByLabel("Every model on local-ollama").uncheck();
  await onLocal.getByRole("checkbox", { name: /^qwen2\.5-coder:7b/ }).check();
  await save();
  assert.deepEqual(await admin.get("/users/alice-ui/nodes"), { username: "alice-ui", node_ids: [local.id], node_models: [{ node_id: local.id, model: "qwen2.5-coder:7b" }] });
  await eventually("coder is back: its model is the one alice may reach on local-ollama", (ids) => ids.includes("coder"));
  await page.reload();
  await section.getByRole("group", { name: "Models on local-ollama" }).getByRole("checkbox", { name: /^qwen2\.5-coder:7b/ }).waitFor();
  assert.equal(await section.getByRole("group", { name: "Models on local-ollama" }).getByRole("checkbox", { name: /^qwen2\.5-coder:7b/ }).isChecked(), true);
  await shot("13b-user-node-access");

  // Back to every node and every model.
  await section.getByRole("group", { name: "Models on local-ollama" }).getByLabel("Every model on local-ollama").check();
  await only.getByLabel("local-ollama").uncheck();
  await save();
  assert.deepEqual(await admin.get("/users/alice-ui/nodes"), { username: "alice-ui", node_ids: [], node_models: [] });
});

test("tool sets, model config and system prompts through their dialogs (or the API's error in place)", async (t) => {
  // Each dialog either saves (the row appears) or, where the endpoint is not built yet, keeps
  // the API's error inside the dialog.
  const outcome = async (dialog, row) => {
    await row.or(dialog.getByRole("alert")).first().waitFor();
    if (await dialog.isVisible()) {
      t.diagnostic(`not saved: ${await dialog.getByRole("alert").last().innerText()}`);
      await dialog.getByRole("button", { name: "Cancel" }).click();
      return false;
    }
    return true;
  };
  await go("/tool-sets");
  await page.getByRole("button", { name: "Add tool set" }).click();
  let d = page.getByRole("dialog", { name: "Add tool set" });
  await d.getByLabel("Name").fill("read-only");
  await d.getByLabel("Tools").fill("read_file\nsearch");
  await d.getByRole("button", { name: "Add tool set" }).click();
  const sets = await outcome(d, page.getByRole("row", { name: /read-only/ }));

  await go("/model-config");
  await page.getByRole("button", { name: "Add model config" }).click();
  d = page.getByRole("dialog", { name: "Add model config" });
  await d.getByLabel("Model prefix").fill("qwen");
  if (sets) await d.getByLabel("Tool set").selectOption({ label: "read-only" });
  await d.getByLabel("Max context length").fill("65536");
  await d.getByRole("button", { name: "Add rule" }).click();
  if (await outcome(d, page.getByRole("row", { name: /qwen/ }))) {
    const c = (await admin.get("/model-config")).configs[0];
    assert.equal(c.model_prefix, "qwen");
    assert.equal(c.max_context_length, 65536);
    if (sets) assert.equal(c.tool_set_name, "read-only");
  }

  await go("/system-prompts");
  for (const [target, text] of [["coder", "You write careful code."], ["team", "Answer briefly."]]) {
    await page.getByRole("button", { name: "Add system prompt" }).click();
    d = page.getByRole("dialog", { name: "Add system prompt" });
    await d.getByLabel("Target").fill(target);
    await d.getByLabel("Prompt").fill(text);
    await d.getByRole("button", { name: "Add prompt" }).click();
    if (!(await outcome(d, page.getByRole("group", { name: `Prompt for mapping ${target}` })))) break;
  }
  if (await page.getByRole("group", { name: "Prompt for mapping team" }).isVisible()) {
    // Move the second prompt to the top: it gets the highest priority.
    const second = await page.locator("ol.sortable li").nth(1).getAttribute("data-name");
    await andWait("PUT", "/system-prompts/reorder", () => page.getByRole("button", { name: `Move ${second} up` }).click());
    const prompts = (await admin.get("/system-prompts")).prompts.sort((a, b) => b.priority - a.priority);
    assert.equal(`${prompts[0].scope_type} ${prompts[0].scope_value}`, second);
  }
  await shot("17b-system-prompts-filled");
});

test("API keys: created and shown once, rotated with a grace period, revoked", async () => {
  await go("/users/alice-ui");
  const keys = page.getByRole("table", { name: "API keys" });
  await keys.getByText("own token").waitFor();
  await page.getByRole("button", { name: "New key" }).click();
  const form = page.getByRole("dialog", { name: "New key for alice-ui" });
  await form.getByLabel("Label").fill("laptop");
  await form.getByLabel("Allowed addresses").fill("127.0.0.1, ::1");
  await andWait("POST", "/users/alice-ui/keys", () => form.getByRole("button", { name: "Create key" }).click());
  const reveal = page.getByRole("dialog", { name: "Key for alice-ui" });
  const key = await reveal.getByLabel("New API key").inputValue();
  assert.equal(key.split(".").length, 3);
  const from = { "cf-connecting-ip": "127.0.0.1" };
  assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, ...from } })).status, 200);
  await shot("22-key-reveal");
  await reveal.getByRole("button", { name: "Done, I copied it" }).click();
  await reveal.waitFor({ state: "detached" });
  await keys.getByRole("row", { name: /laptop/ }).waitFor();
  assert.ok(!(await page.content()).includes(key), "the key is gone from the page after closing");
  const hint = `…${key.slice(-6)}`;
  await keys.getByRole("row", { name: /laptop/ }).getByText("127.0.0.1, ::1").waitFor();

  await page.getByRole("button", { name: `Rotate key ${hint}` }).click();
  const rot = page.getByRole("dialog", { name: /^Rotate key/ });
  await rot.getByLabel("Grace period (minutes)").fill("5");
  await andWait("POST", "/users/alice-ui/keys/", () => rot.getByRole("button", { name: "Rotate key" }).click());
  const fresh = await page.getByRole("dialog", { name: "Key for alice-ui" }).getByLabel("New API key").inputValue();
  assert.notEqual(fresh, key);
  await page.getByRole("button", { name: "Done, I copied it" }).click();
  for (const k of [key, fresh]) assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${k}`, ...from } })).status, 200, "both work during the grace period");
  await andWait("DELETE", "/users/alice-ui/keys/", () => page.getByRole("button", { name: `Revoke key ${hint}` }).click());
  await keys.getByRole("row", { name: new RegExp(hint) }).getByText("revoked").waitFor();
  const gone = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, ...from } });
  assert.equal(gone.status, 401);
  assert.match(gone.body.error.message, /revoked/);
  await shot("23-user-keys");
});

test("teams: create, members, allow-list and limits", async () => {
  await go("/teams");
  await page.getByText("No teams yet").waitFor();
  await page.getByRole("button", { name: "Create team" }).click();
  const dialog = page.getByRole("dialog", { name: "Create team" });
  await dialog.getByLabel("Team name").fill("ui-team");
  await andWait("POST", "/teams", () => dialog.getByRole("button", { name: "Create team" }).click());
  await heading("Team ui-team").waitFor();
  await page.getByLabel("Add member").selectOption("alice-ui");
  await andWait("POST", "/teams/ui-team/members", () => page.getByRole("button", { name: "Add member" }).click());
  await page.getByRole("list", { name: "Team members" }).getByText("alice-ui").waitFor();
  await page.getByRole("checkbox", { name: /^coder/ }).check();
  await andWait("PATCH", "/teams/ui-team", () => page.getByRole("button", { name: "Save team models" }).click());
  await page.getByLabel("Team request limit").fill("500");
  await andWait("PATCH", "/teams/ui-team", () => page.getByRole("button", { name: "Save team limits" }).click());
  const t = await admin.get("/teams/ui-team");
  assert.deepEqual([t.members, t.models, t.request_limit], [["alice-ui"], ["coder"], 500]);
  await shot("24-team");
  await go("/teams");
  await page.getByRole("row", { name: /ui-team/ }).getByText("alice-ui").waitFor();
  await shot("25-teams");
});

test("admin accounts: an Access email scoped to a team", async () => {
  await go("/admins");
  await heading("Admin accounts").waitFor();
  await page.getByLabel("Email").fill("lead@example.com");
  await page.getByLabel("Scope").selectOption("ui-team");
  await andWait("POST", "/admins", () => page.getByRole("button", { name: "Add admin" }).click());
  await page.getByRole("row", { name: /lead@example\.com/ }).getByText("team ui-team").waitFor();
  assert.deepEqual((await admin.get("/admins")).admins.map((a) => [a.email, a.team]), [["lead@example.com", "ui-team"]]);
  await shot("26-admin-accounts");
});

test("the user page: sign in with a key, /v1/me read-only, the setup filled in", async () => {
  const k = await admin.post("/users/alice-ui/keys", { label: "me-page" }, 201);
  await go("/me");
  await page.getByRole("heading", { name: "Your gateway account" }).waitFor();
  await page.getByLabel("API key").fill("not-a-key");
  await page.getByRole("button", { name: "Sign in with key" }).click();
  await page.getByRole("alert").filter({ hasText: /invalid token/ }).waitFor();
  await page.getByLabel("API key").fill(k.key);
  await page.getByRole("button", { name: "Sign in with key" }).click();
  await heading("Hello, alice-ui").waitFor();
  await page.getByLabel("Your models").getByText("coder").waitFor();
  await page.getByText("ui-team").first().waitFor();
  await page.getByRole("table", { name: "Your limits" }).getByRole("row", { name: /team/ }).waitFor();
  await page.getByRole("table", { name: "Your keys" }).getByRole("row", { name: /me-page/ }).getByText("this key").waitFor();
  await page.getByLabel("Claude Code environment", { exact: true }).getByText(`ANTHROPIC_AUTH_TOKEN="${k.key}"`).waitFor();
  assert.equal(await page.getByRole("button", { name: /Revoke|Rotate|Delete|Save/ }).count(), 0, "read-only");
  await shot("27-user-page");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Your gateway account" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("maestro.userKey")), null);
});

test("costs: a price and a budget through their dialogs, the cost view", async () => {
  await admin.post("/users", { username: "budget-ui", has_all_models: true }, 201);
  await go("/prices");
  await heading("Prices").waitFor();
  await page.getByRole("button", { name: "Add price" }).click();
  let d = page.getByRole("dialog", { name: "Add price" });
  await d.getByLabel("Real model").fill("gpt-ui");
  await d.getByLabel("Input per million tokens").fill("2.5");
  await d.getByLabel("Output per million tokens").fill("10");
  await andWait("POST", "/prices", () => d.getByRole("button", { name: "Add price" }).click());
  await page.getByRole("table", { name: "Prices" }).getByRole("row", { name: /gpt-ui/ }).getByRole("cell", { name: "10", exact: true }).waitFor();
  const price = (await admin.get("/prices")).prices.find((p) => p.model === "gpt-ui");
  assert.deepEqual([price.node, price.input_micros, price.output_micros, price.cache_read_micros], [null, 2_500_000, 10_000_000, null]);
  await shot("29-prices");
  await go("/budgets");
  await heading("Budgets").waitFor();
  await page.getByRole("button", { name: "Add budget" }).click();
  d = page.getByRole("dialog", { name: "Add budget" });
  await d.getByLabel("Username").fill("budget-ui");
  await d.getByLabel("Limit").fill("25");
  await andWait("POST", "/budgets", () => d.getByRole("button", { name: "Add budget" }).click());
  await page.getByRole("table", { name: "Budgets" }).getByRole("row", { name: /budget-ui/ }).waitFor();
  const budget = (await admin.get("/budgets")).budgets.find((b) => b.scope_name === "budget-ui");
  assert.deepEqual([budget.period, budget.limit_micros, budget.soft_pct], ["month", 25_000_000, 80]);
  await shot("30-budgets");
  await go("/costs");
  await heading("Costs").waitFor();
  await page.getByRole("group", { name: "Cost" }).waitFor();
  await page.getByRole("table", { name: "Costs" }).or(page.getByText("No usage in this period.")).first().waitFor();
  await page.getByLabel("Group").selectOption("node");
  await page.getByRole("table", { name: "Costs" }).getByRole("columnheader", { name: "node" }).or(page.getByText("No usage in this period.")).first().waitFor();
  await shot("31-costs");
});

test("every other page renders; screenshots", async () => {
  const pages = [
    ["/models", "Models", "14-models"],
    ["/model-config", "Model config", "15-model-config"],
    ["/tool-sets", "Tool sets", "16-tool-sets"],
    ["/system-prompts", "System prompts", "17-system-prompts"],
    ["/audit", "Audit log", "18-audit-log"],
    ["/guide", "Guide", "19-guide"],
    ["/alerts", "Alerts", "29-alerts"],
    ["/payload-log", "Payload log", "30-payload-log"],
  ];
  for (const [route, title, file] of pages) {
    await go(route);
    await heading(title).waitFor();
    await shot(file);
  }
  // A test alert queued from the Alerts page shows in its outbox, pending the cron.
  await go("/alerts");
  await page.getByRole("button", { name: "Send a test alert" }).click();
  await page.getByRole("table", { name: "Alerts" }).getByRole("row", { name: /Test alert from the dashboard/ }).getByText("pending").waitFor();
  await shot("29-alerts-queued");
  // The guide fills in the chosen user's exact setup.
  await go("/guide");
  await page.getByLabel("Claude Code environment", { exact: true }).getByText(`ANTHROPIC_BASE_URL="${env.url}"`).waitFor();
  await page.getByLabel("ollama CLI", { exact: true }).getByText(`OLLAMA_HOST="${env.url}"`).waitFor();
  await go("/nodes");
  await page.getByRole("tab", { name: "Load" }).click();
  await page.getByRole("table", { name: "Node load" }).or(page.getByRole("alert")).first().waitFor();
  await shot("20-nodes-load");
});

test("single sign-on: behind Cloudflare Access the dashboard signs in from the assertion, scoped to the team", async () => {
  // Access itself cannot run here: a JWKS server on loopback holds the team's key, and the
  // browser's admin calls get the assertion added on the way, as Access's edge would.
  const { default: http } = await import("node:http");
  const { default: crypto } = await import("node:crypto");
  const pair = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = pair.publicKey.export({ format: "jwk" });
  const certs = http.createServer((_, res) => res.end(JSON.stringify({ keys: [{ kid: "ui", alg: "RS256", use: "sig", ...jwk }] })));
  await new Promise((r) => certs.listen(0, "127.0.0.1", r));
  try {
    await admin.put("/settings", { "access.team_domain": "ui.cloudflareaccess.com", "access.audience": "ui-aud", "access.certs_url": `http://127.0.0.1:${certs.address().port}/certs` }, 200);
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const head = b64({ alg: "RS256", kid: "ui" });
    const body = b64({ aud: ["ui-aud"], email: "lead@example.com", exp: Math.floor(Date.now() / 1000) + 600, iss: "https://ui.cloudflareaccess.com" });
    const assertion = `${head}.${body}.${crypto.sign("sha256", Buffer.from(`${head}.${body}`), pair.privateKey).toString("base64url")}`;
    await page.evaluate(() => sessionStorage.clear());
    await page.route(`${env.url}/admin/**`, (route) => route.continue({ headers: { ...route.request().headers(), "cf-access-jwt-assertion": assertion } }));
    await go("/login");
    await page.getByRole("button", { name: "Continue with Cloudflare Access" }).click();
    await heading("Dashboard").waitFor();
    await page.getByText("lead@example.com (team ui-team)").waitFor();
    assert.equal(await page.evaluate(() => JSON.parse(sessionStorage.getItem("maestro.session")).token), "", "no token: Access vouches for every call");
    await go("/users/alice-ui");
    await page.getByRole("table", { name: "API keys" }).getByText("me-page").waitFor();
    await shot("28-access-team-admin");
    await go("/nodes");
    await page.getByRole("alert").filter({ hasText: /team admin of 'ui-team'/ }).first().waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You signed out.").waitFor();
  } finally {
    await page.unroute(`${env.url}/admin/**`);
    certs.close();
  }
  // Back to a password session for the tests after this one.
  await page.getByLabel("Username").fill(ADMIN_USERNAME);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText(`Signed in as ${ADMIN_USERNAME}`).waitFor();
});

test("sign out, and a rejected session returns to login with a message", async () => {
  await go("/dashboard");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You signed out.").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("maestro.session")), null);
  // The old session is dead on the server too.
  await page.getByLabel("Username").fill(ADMIN_USERNAME);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading("Dashboard").waitFor();
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem("maestro.session"));
    sessionStorage.setItem("maestro.session", JSON.stringify({ ...s, token: "revoked-or-expired" }));
  });
  await go("/users");
  await page.waitForURL(/#\/login$/);
  await page.getByText(/Signed out:/).waitFor();
  await shot("21-login-after-401");
  // Signing in again returns to the page the admin was on.
  await page.getByLabel("Username").fill(ADMIN_USERNAME);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await heading("Users").waitFor();
  assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
});
