// Stored Responses (issue 16 item 3, issue 18 Responses state): `store: true` (the default),
// `item_reference`, `previous_response_id`, GET / DELETE /v1/responses/{id} and input_items,
// on OpenAI-compatible and Ollama nodes, streamed and not; per user; `store: false` stores
// nothing. Every test checks what the client saw and what reached the origin.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setup, adminClient, getJson, sseEvents, sleep, python, defaultVars } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { startGateway } from "../../devtools/gateway.mjs";

let env, admin, OL, OA, alice, bob, persistTo, restarted;

before(async () => {
  OL = await startOrigin({ name: "ollama", kind: "ollama", models: ["llama3:latest"] });
  OA = await startOrigin({ name: "openai", kind: "openai", models: ["gpt-4o-mini"] });
  persistTo = fs.mkdtempSync(path.join(os.tmpdir(), "responses-state-"));
  env = await setup({ name: "responses_state", persistTo });
  admin = adminClient(env.url);
  for (const o of [OL, OA]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "gpt", real_name: "gpt-4o-mini" }, 201);
  alice = await admin.post("/users", { username: "alice", has_all_models: true }, 201);
  bob = await admin.post("/users", { username: "bob", has_all_models: true }, 201);
});
after(async () => {
  if (restarted) await restarted.stop();
  else await env?.stop();
  if (persistTo) fs.rmSync(persistTo, { recursive: true, force: true });
  for (const o of [OL, OA]) await o?.stop();
});

const auth = (u) => ({ authorization: `Bearer ${u.token}`, "content-type": "application/json" });

/** POST /v1/responses; streamed answers are reduced to their final response object. */
async function create(user, body) {
  const r = await fetch(`${env.url}/v1/responses`, { method: "POST", headers: auth(user), body: JSON.stringify(body) });
  const text = await r.text();
  if (!body.stream) return { status: r.status, body: JSON.parse(text) };
  const events = sseEvents(text);
  const done = events.find((e) => e.type === "response.completed");
  return { status: r.status, events, body: done?.response ?? events.at(-1) };
}

const originFor = (model) => (model === "gpt" ? OA : OL);
/** The conversation the origin received last, as [role, text] pairs. */
function lastConversation(model) {
  const req = originFor(model).inference().at(-1);
  assert.equal(req.path, model === "gpt" ? "/v1/chat/completions" : "/api/chat");
  return req.body.messages.map((m) => [m.role, typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("")]);
}
const reply = (model) => `Hello from ${model === "gpt" ? "openai" : "ollama"}`;

describe("a stored conversation", () => {
  for (const model of ["gpt", "fast"]) {
    for (const stream of [false, true]) {
      test(`item_reference, previous_response_id and GET on '${model}' (${stream ? "streamed" : "not streamed"})`, async () => {
        OA.reset();
        OL.reset();
        // Turn 1: store omitted, so stored (OpenAI's default), and the answer says so.
        const t1 = await create(alice, { model, input: "hi", stream });
        assert.equal(t1.status, 200, JSON.stringify(t1.body));
        assert.equal(t1.body.store, true);
        assert.equal(t1.body.previous_response_id, null);
        if (stream) assert.equal(t1.events[0].response.store, true, "response.created says store too");
        const msg = t1.body.output.find((o) => o.type === "message");
        assert.equal(msg.content[0].text, reply(model));

        // Turn 2 at once (before the batched write can have landed), as the AI SDK sends it.
        const t2 = await create(alice, { model, stream, input: [{ role: "user", content: [{ type: "input_text", text: "hi" }] }, { type: "item_reference", id: msg.id }, { role: "user", content: "again" }] });
        assert.equal(t2.status, 200, JSON.stringify(t2.body));
        assert.deepEqual(lastConversation(model), [["user", "hi"], ["assistant", reply(model)], ["user", "again"]]);

        // Turn 3 continues turn 2 by id: the whole chain reaches the origin, oldest first.
        const t3 = await create(alice, { model, stream, previous_response_id: t2.body.id, input: "third", instructions: "Be brief." });
        assert.equal(t3.status, 200, JSON.stringify(t3.body));
        assert.equal(t3.body.previous_response_id, t2.body.id);
        assert.deepEqual(lastConversation(model), [["system", "Be brief."], ["user", "hi"], ["assistant", reply(model)], ["user", "again"], ["assistant", reply(model)], ["user", "third"]]);

        // GET gives back the response object as the client received it.
        const got = await getJson(`${env.url}/v1/responses/${t3.body.id}`, { headers: auth(alice) });
        assert.equal(got.status, 200);
        assert.equal(got.body.id, t3.body.id);
        assert.equal(got.body.object, "response");
        assert.deepEqual(got.body.output, t3.body.output);
        assert.equal(got.body.store, true);
        const items = await getJson(`${env.url}/v1/responses/${t2.body.id}/input_items?order=asc`, { headers: auth(alice) });
        assert.equal(items.status, 200);
        assert.equal(items.body.object, "list");
        assert.deepEqual(items.body.data.map((i) => i.type), ["message", "message", "message"]);
        assert.equal(items.body.data[1].id, msg.id, "the referenced item, resolved");
      });
    }
  }

  for (const model of ["gpt", "fast"]) {
    for (const stream of [false, true]) {
      test(`a tool round trip by item_reference, as the AI SDK sends it ('${model}', ${stream ? "streamed" : "not streamed"})`, async () => {
        const origin = originFor(model);
        origin.reset();
        origin.toolCalls = [{ function: { name: "get_weather", arguments: { city: "Paris" } } }];
        const tools = [{ type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }];
        const t1 = await create(alice, { model, stream, tools, input: "weather?" });
        origin.toolCalls = null;
        assert.equal(t1.status, 200, JSON.stringify(t1.body));
        const call = t1.body.output.find((o) => o.type === "function_call");
        assert.equal(call.name, "get_weather");
        const input = [{ role: "user", content: "weather?" }, ...t1.body.output.map((o) => ({ type: "item_reference", id: o.id })), { type: "function_call_output", call_id: call.call_id, output: "sunny" }];
        const t2 = await create(alice, { model, stream, tools, input });
        assert.equal(t2.status, 200, JSON.stringify(t2.body));
        const msgs = origin.inference().at(-1).body.messages;
        const asked = msgs.find((m) => m.role === "assistant");
        assert.equal(asked.tool_calls[0].function.name, "get_weather");
        const result = msgs.find((m) => m.role === "tool");
        assert.equal(result.content, "sunny");
        if (model === "gpt") assert.equal(result.tool_call_id, asked.tool_calls[0].id);
        else assert.equal(result.tool_name, "get_weather");
      });
    }
  }

  test("the records reach the user's ResponseStore Durable Object (not only this isolate's cache)", async () => {
    const t = await create(alice, { model: "gpt", input: "keep me" });
    const ns = await env.gw.mf.getDurableObjectNamespace("RESPONSES");
    let recs = [];
    for (let i = 0; i < 50 && recs.length === 0; i++) {
      await sleep(50);
      const r = await ns.get(ns.idFromName(`user:${alice.id}`)).fetch("https://responses/load", { method: "POST", body: JSON.stringify({ ids: [t.body.id] }) });
      recs = await r.json();
    }
    assert.equal(recs.length, 1);
    assert.equal(recs[0].response.id, t.body.id);
    assert.equal(recs[0].input[0].content[0].text, "keep me");
    const other = await ns.get(ns.idFromName(`user:${bob.id}`)).fetch("https://responses/load", { method: "POST", body: JSON.stringify({ ids: [t.body.id] }) });
    assert.deepEqual(await other.json(), [], "another user's store does not have it");
  });
});

describe("per user, store: false, unknown ids, delete", () => {
  test("another user can neither read nor continue nor reference a response", async () => {
    OA.reset();
    const t = await create(alice, { model: "gpt", input: "secret" });
    const msgId = t.body.output[0].id;
    const get = await getJson(`${env.url}/v1/responses/${t.body.id}`, { headers: auth(bob) });
    assert.equal(get.status, 404);
    assert.equal(get.body.error.type, "invalid_request_error");
    assert.match(get.body.error.message, /not found/);
    const cont = await create(bob, { model: "gpt", previous_response_id: t.body.id, input: "x" });
    assert.equal(cont.status, 400);
    assert.equal(cont.body.error.param, "previous_response_id");
    assert.match(cont.body.error.message, /not found/);
    const ref = await create(bob, { model: "gpt", input: [{ type: "item_reference", id: msgId }] });
    assert.equal(ref.status, 400);
    assert.equal(ref.body.error.param, "input[0].id");
    assert.equal(OA.inference().length, 1, "refused requests never reach the origin");
    const del = await getJson(`${env.url}/v1/responses/${t.body.id}`, { method: "DELETE", headers: auth(bob) });
    assert.equal(del.status, 404, "nor delete it");
    assert.equal((await getJson(`${env.url}/v1/responses/${t.body.id}`, { headers: auth(alice) })).status, 200);
  });

  for (const stream of [false, true]) {
    test(`store: false stores nothing and says so (${stream ? "streamed" : "not streamed"})`, async () => {
      const t = await create(alice, { model: "fast", input: "ephemeral", store: false, stream });
      assert.equal(t.status, 200);
      assert.equal(t.body.store, false);
      await sleep(150);
      assert.equal((await getJson(`${env.url}/v1/responses/${t.body.id}`, { headers: auth(alice) })).status, 404);
      const ref = await create(alice, { model: "fast", input: [{ type: "item_reference", id: t.body.output[0].id }] });
      assert.equal(ref.status, 400);
      const ns = await env.gw.mf.getDurableObjectNamespace("RESPONSES");
      const r = await ns.get(ns.idFromName(`user:${alice.id}`)).fetch("https://responses/load", { method: "POST", body: JSON.stringify({ ids: [t.body.id] }) });
      assert.deepEqual(await r.json(), []);
    });
  }

  test("unknown ids are clear 400/404s in the OpenAI shape", async () => {
    const prev = await create(alice, { model: "gpt", previous_response_id: "resp_doesnotexist", input: "x" });
    assert.equal(prev.status, 400);
    assert.deepEqual(Object.keys(prev.body.error).sort(), ["code", "message", "param", "type"]);
    assert.match(prev.body.error.message, /Previous response with id 'resp_doesnotexist' not found/);
    const bad = await create(alice, { model: "gpt", input: [{ type: "item_reference", id: "not-an-item" }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, "input[0].id");
    const typed = await create(alice, { model: "gpt", input: "x", store: "yes" });
    assert.equal(typed.status, 400);
    assert.equal(typed.body.error.param, "store");
    const get = await getJson(`${env.url}/v1/responses/resp_nope`, { headers: auth(alice) });
    assert.equal(get.status, 404);
    assert.equal(get.body.error.message, "Response with id 'resp_nope' not found.");
    const noauth = await getJson(`${env.url}/v1/responses/resp_nope`);
    assert.equal(noauth.status, 401);
    const post = await getJson(`${env.url}/v1/responses/resp_nope`, { method: "POST", headers: auth(alice), body: "{}" });
    assert.equal(post.status, 405);
  });

  test("DELETE removes a response; continuing it then fails", async () => {
    const t = await create(alice, { model: "gpt", input: "to delete" });
    const del = await getJson(`${env.url}/v1/responses/${t.body.id}`, { method: "DELETE", headers: auth(alice) });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { id: t.body.id, object: "response", deleted: true });
    assert.equal((await getJson(`${env.url}/v1/responses/${t.body.id}`, { headers: auth(alice) })).status, 404);
    assert.equal((await create(alice, { model: "gpt", previous_response_id: t.body.id, input: "x" })).status, 400);
    await sleep(150); // a batched write still in flight must not bring it back
    assert.equal((await getJson(`${env.url}/v1/responses/${t.body.id}`, { headers: auth(alice) })).status, 404);
  });
});

describe("the official OpenAI Python SDK", () => {
  for (const model of ["gpt", "fast"]) {
    test(`store, previous_response_id, retrieve, input_items and delete ('${model}')`, async () => {
      OA.reset();
      OL.reset();
      const r = await python("dialects.py", [env.url, alice.token, "responses_state", model]);
      assert.equal(r.store, true);
      assert.equal(r.retrieved, r.second_id);
      assert.equal(r.streamed_previous, r.second_id);
      assert.equal(r.deleted_then, "NotFoundError");
      assert.ok(r.input_items >= 1);
      // The streamed third turn carried both earlier turns to the origin.
      const conv = lastConversation(model);
      assert.deepEqual(conv.map(([role]) => role), ["user", "assistant", "user", "assistant", "user"]);
    });
  }
});

describe("durability", () => {
  test("responses.max_per_user bounds a user's store: the oldest go first", async () => {
    await admin.put("/settings", { "responses.max_per_user": 10 });
    const carol = await admin.post("/users", { username: "carol", has_all_models: true }, 201);
    const ids = [];
    for (let i = 0; i < 12; i++) {
      ids.push((await create(carol, { model: "gpt", input: `n${i}` })).body.id);
      await sleep(80); // separate batches, so the bound applies as they arrive
    }
    await sleep(300);
    const ns = await env.gw.mf.getDurableObjectNamespace("RESPONSES");
    const r = await ns.get(ns.idFromName(`user:${carol.id}`)).fetch("https://responses/load", { method: "POST", body: JSON.stringify({ ids }) });
    const kept = (await r.json()).map((x) => x.id);
    assert.deepEqual(kept, ids.slice(2));
    await admin.put("/settings", { "responses.max_per_user": 1000 });
  });

  test("a fresh runtime (empty isolate cache) reads and continues responses from the Durable Object", async () => {
    OA.reset();
    const t1 = await create(alice, { model: "gpt", input: "remember this" });
    assert.equal(t1.status, 200);
    const t2 = await create(alice, { model: "gpt", input: "second", previous_response_id: t1.body.id });
    assert.equal(t2.status, 200);
    await sleep(300); // the batched writes land
    await env.stop();
    restarted = await startGateway({ databaseUrl: env.databaseUrl, vars: defaultVars, persistTo });
    const base = restarted.url;
    const got = await getJson(`${base}/v1/responses/${t1.body.id}`, { headers: auth(alice) });
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.deepEqual(got.body.output, t1.body.output);
    assert.equal((await getJson(`${base}/v1/responses/${t1.body.id}`, { headers: auth(bob) })).status, 404);
    const r = await fetch(`${base}/v1/responses`, { method: "POST", headers: auth(alice), body: JSON.stringify({ model: "gpt", previous_response_id: t1.body.id, input: "and now?" }) });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(lastConversation("gpt"), [["user", "remember this"], ["assistant", reply("gpt")], ["user", "and now?"]]);
    // A chain and a reference into it in one request, both loaded from the store.
    const both = await fetch(`${base}/v1/responses`, { method: "POST", headers: auth(alice), body: JSON.stringify({ model: "gpt", previous_response_id: t2.body.id, input: [{ type: "item_reference", id: t2.body.output[0].id }, { role: "user", content: "last" }] }) });
    assert.equal(both.status, 200, await both.clone().text());
    // (Consecutive assistant items form one assistant message: the referenced one joins turn 2's.)
    const conv = lastConversation("gpt");
    assert.deepEqual(conv.map(([role]) => role), ["user", "assistant", "user", "assistant", "user"]);
    assert.equal(conv[3][1].split(reply("gpt")).length - 1, 2);
  });
});
