// Admin API contract (issue 12): schemathesis generates requests from /admin/openapi.json
// (valid and invalid) against a local gateway; no 5xx, every status, content type and body as
// documented, wrong methods answered with 405 and a correct Allow header. Routes that call
// origins (discover, health checks, pulls, deleting a model on a node) are left out: against the
// random base URLs the
// generator invents they answer 502/504, which is their documented, correct behaviour.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setup, ADMIN_TOKEN } from "./helpers.mjs";

let env;
before(async () => {
  env = await setup({ name: "contract" });
});
after(async () => {
  await env?.stop();
});

test("schemathesis: the admin API matches its OpenAPI document and never answers 5xx", async () => {
  const bin = path.join(os.homedir(), ".cache/maestro-edge/venv/bin/schemathesis");
  const args = [
    "run", `${env.url}/admin/openapi.json`,
    "-H", `Authorization: Bearer ${ADMIN_TOKEN}`,
    "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,unsupported_method,allow_header_conformance",
    "--exclude-path-regex", "(discover|sync|health-check|pull|nodes/\\{id\\}/models/\\{model\\}$)",
    // CI runs a short fuzzing pass; CONTRACT_PHASES=coverage,fuzzing,stateful CONTRACT_EXAMPLES=50
    // is the thorough run (several minutes).
    "--phases", process.env.CONTRACT_PHASES ?? "fuzzing",
    "--max-examples", process.env.CONTRACT_EXAMPLES ?? "6",
    "--seed", "20261121",
    // The same inputs every run: CI must not pass or fail by chance. The thorough run (see
    // above) explores beyond them.
    "--generation-deterministic",
    "--request-timeout", "20",
  ];
  const { code, out } = await new Promise((resolve) => {
    // schemathesis keeps a crash cache under ./.schemathesis: run it in a scratch folder so a
    // test run never modifies the tree.
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "maestro-contract-"));
    execFile(bin, args, { cwd, timeout: 540_000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: "1", SCHEMATHESIS_TELEMETRY: "false" } }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code ?? 1 : 0, out: `${stdout}\n${stderr}` }),
    );
  });
  assert.equal(code, 0, out.slice(-6000));
  assert.match(out, /passed/i);
});
