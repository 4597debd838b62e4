// Single sign-on through Cloudflare Access and team admins (issue 21). RS256 assertions minted
// here, the team's keys (JWKS) served by this test on loopback through access.certs_url.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import crypto from "node:crypto";
import { setup, adminClient, getJson, ADMIN_TOKEN, ADMIN_USERNAME, ADMIN_PASSWORD } from "./helpers.mjs";

const AUD = "aud-0123456789abcdef";
const TEAM = "maestro-test.cloudflareaccess.com";
let env, admin, jwks, jwksHits = 0;
const good = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });

const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
function mint({ email = "ann@example.com", aud = [AUD], exp = Math.floor(Date.now() / 1000) + 300, kid = "k1", alg = "RS256", key = good.privateKey, iss = `https://${TEAM}`, extra = {} } = {}) {
  const head = b64({ alg, kid, typ: "JWT" });
  const body = b64({ aud, email, exp, iat: Math.floor(Date.now() / 1000) - 5, iss, sub: "abc", type: "app", ...extra });
  const sig = alg === "RS256" ? crypto.sign("sha256", Buffer.from(`${head}.${body}`), key).toString("base64url") : crypto.createHmac("sha256", "x").update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}
const asAccess = (token, path = "/auth/me", opts = {}) => getJson(`${env.url}/admin${path}`, { ...opts, headers: { "cf-access-jwt-assertion": token, "content-type": "application/json", ...(opts.headers ?? {}) } });

before(async () => {
  const jwk = good.publicKey.export({ format: "jwk" });
  jwks = http.createServer((req, res) => {
    jwksHits++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [{ kid: "k1", alg: "RS256", use: "sig", ...jwk }], public_cert: { kid: "k1", cert: "-----BEGIN CERTIFICATE-----" } }));
  });
  await new Promise((r) => jwks.listen(0, "127.0.0.1", r));
  env = await setup({ name: "sso" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "access.team_domain": TEAM, "access.audience": AUD, "access.certs_url": `http://127.0.0.1:${jwks.address().port}/cdn-cgi/access/certs` }, 200);
  await admin.post("/admins", { email: "Ann@Example.com" }, 201);
});
after(async () => {
  await env?.stop();
  jwks?.close();
});

describe("Cloudflare Access", () => {
  test("a valid assertion for a listed email signs in; the keys are fetched once and cached", async () => {
    const before = jwksHits;
    const r = await asAccess(mint());
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.actor, "ann@example.com");
    for (let i = 0; i < 3; i++) assert.equal((await asAccess(mint())).status, 200);
    assert.equal(jwksHits - before, 1, "one fetch of the certs for four sign-ins");
    const u = await asAccess(mint(), "/users", { method: "POST", body: JSON.stringify({ username: "via-sso" }) });
    assert.equal(u.status, 201);
    const log = await admin.get("/audit-logs?action=user.create", 200);
    assert.equal(log.logs.find((e) => e.entity_id === "via-sso").actor, "ann@example.com", "the audit names the Access admin");
  });

  test("bad signature, wrong audience, expired, other algorithms, unknown key are 401; an unlisted email is 403", async () => {
    const cases = [
      ["bad signature", mint({ key: other.privateKey }), 401, /signature is invalid/],
      ["wrong audience", mint({ aud: ["someone-else"] }), 401, /audience/],
      ["expired", mint({ exp: Math.floor(Date.now() / 1000) - 10 }), 401, /expired/],
      ["HS256", mint({ alg: "HS256" }), 401, /not RS256/],
      ["other team", mint({ iss: "https://evil.cloudflareaccess.com" }), 401, /issuer/],
      ["unknown kid", mint({ kid: "k9" }), 401, /unknown key/],
      ["garbage", "not-a-jwt", 401, /malformed/],
      ["tampered", mint().replace(/\.([^.]+)\./, (_, p) => `.${b64({ ...JSON.parse(Buffer.from(p, "base64url")), email: "root@example.com" })}.`), 401, /signature/],
      ["unknown email", mint({ email: "mallory@example.com" }), 403, /no admin access/],
    ];
    for (const [what, token, status, message] of cases) {
      const r = await asAccess(token);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message, what);
    }
  });

  test("ADMIN_TOKEN and password sessions keep working; a setting turns password login off", async () => {
    assert.equal((await getJson(`${env.url}/admin/auth/me`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "cf-access-jwt-assertion": "garbage" } })).status, 200, "Authorization takes precedence");
    const login = () => getJson(`${env.url}/admin/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: ADMIN_USERNAME, password: ADMIN_PASSWORD }) });
    const s = await login();
    assert.equal(s.status, 200);
    await admin.put("/settings", { "admin.password_login": false }, 200);
    const off = await login();
    assert.equal(off.status, 403);
    assert.match(off.body.error.message, /password login is turned off/);
    assert.equal((await getJson(`${env.url}/admin/auth/me`, { headers: { authorization: `Bearer ${s.body.token}` } })).status, 200, "a session from before still works until it ends");
    assert.equal((await asAccess(mint())).status, 200);
    await admin.del("/settings/admin.password_login", 204);
    assert.equal((await login()).status, 200);
  });

  test("admin accounts API: bad input, duplicates, removal", async () => {
    await admin.post("/admins", { email: "not-an-email" }, 400);
    await admin.post("/admins", { email: "x@y.z", team: "no-such-team" }, 400);
    await admin.post("/admins", { email: "ann@example.com" }, 409);
    await admin.post("/admins", { email: "gone@example.com" }, 201);
    assert.equal((await asAccess(mint({ email: "gone@example.com" }))).status, 200);
    await admin.del("/admins/gone@example.com", 204);
    assert.equal((await asAccess(mint({ email: "gone@example.com" }))).status, 403);
    await admin.del("/admins/gone@example.com", 404);
    const list = await admin.get("/admins", 200);
    assert.deepEqual(list.admins.map((a) => [a.email, a.team]), [["ann@example.com", null]]);
  });
});

describe("team admins", () => {
  test("a team admin sees and manages only the team's members, their keys and usage", async () => {
    await admin.post("/users", { username: "member", has_all_models: true }, 201);
    await admin.post("/users", { username: "stranger", has_all_models: true }, 201);
    await admin.post("/teams", { name: "squad", members: ["member"] }, 201);
    await admin.post("/admins", { email: "lead@example.com", team: "squad" }, 201);
    const t = mint({ email: "lead@example.com" });
    const as = (method, path, body) => asAccess(t, path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.equal((await as("GET", "/auth/me")).body.actor, "lead@example.com (team squad)");
    assert.equal((await as("GET", "/teams/squad")).status, 200);
    assert.equal((await as("GET", "/users/member")).status, 200);
    assert.equal((await as("GET", "/users/member/activity")).status, 200);
    const k = await as("POST", "/users/member/keys", { label: "from-lead" });
    assert.equal(k.status, 201);
    assert.equal((await as("GET", "/users/member/keys")).body.total, 2);
    assert.equal((await as("POST", `/users/member/keys/${k.body.id}/rotate`, { grace_seconds: 0 })).status, 201);
    assert.equal((await as("DELETE", `/users/member/keys/${k.body.id}`)).status, 204);
    for (const [m, p, b] of [
      ["GET", "/users/stranger"],
      ["GET", "/users/stranger/keys"],
      ["POST", "/users/stranger/keys", {}],
      ["GET", "/users"],
      ["GET", "/teams"],
      ["POST", "/teams/squad/members", { username: "stranger" }],
      ["PATCH", "/teams/squad", { request_limit: 1 }],
      ["PUT", "/users/member/token", {}],
      ["GET", "/settings"],
      ["GET", "/nodes"],
      ["GET", "/admins"],
      ["POST", "/admins", { email: "x@example.com" }],
    ]) {
      const r = await as(m, p, b);
      assert.equal(r.status, 403, `${m} ${p}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /team admin of 'squad'/);
    }
    const log = await admin.get("/audit-logs?entity_type=api_key&limit=50", 200);
    assert.ok(log.logs.some((e) => e.action === "key.create" && e.actor === "lead@example.com (team squad)"), "the audit names the team admin");
  });
});
