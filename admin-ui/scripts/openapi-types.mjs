// The dashboard's API types come from the gateway's OpenAPI document (src/admin/openapi.json,
// which a native test keeps in step with the admin routes), so a field renamed or added there
// shows up here as a type error rather than as a blank cell.
//   node scripts/openapi-types.mjs          write src/openapi.gen.ts
//   node scripts/openapi-types.mjs --check  fail when src/openapi.gen.ts is not what the
//                                           document generates (`npm run build` runs this)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const UI = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SPEC = path.join(UI, "..", "src", "admin", "openapi.json");
const OUT = path.join(UI, "src", "openapi.gen.ts");
const HEADER = "// Generated from src/admin/openapi.json by admin-ui/scripts/openapi-types.mjs (`npm run types`).\n// Do not edit: `npm run build` fails when this file is not what the document generates.\n";

let openapiTS;
try {
  ({ default: openapiTS } = await import("openapi-typescript"));
} catch {
  console.error("openapi-typescript is missing from admin-ui/node_modules: run `npm ci` in admin-ui (scripts/setup.sh does it when package-lock.json changed)");
  process.exit(1);
}

// Parsed rather than passed as a path, so the output does not depend on where the checkout is.
const generated = HEADER + (await openapiTS(JSON.parse(fs.readFileSync(SPEC, "utf8"))));

if (process.argv.includes("--check")) {
  const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, "utf8") : "";
  if (current !== generated) {
    console.error(`admin-ui/src/openapi.gen.ts is stale: src/admin/openapi.json changed. Run \`npm run types\` in admin-ui and commit the result.`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(OUT, generated);
  console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
}
