// Bundle size (wasm raw and gzipped, with and without wasm-opt) and module compile time.
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { ROOT } from "./world.mjs";

// Exactly what worker-build 0.8.7 would run if Cargo.toml's
// [package.metadata.wasm-pack.profile.release] did not say `wasm-opt = false`
// (worker-build src/build/mod.rs: "-O", an explicit feature list, and --debuginfo).
export const WASM_OPT_ARGS = ["-O", ...["mutable-globals", "sign-ext", "nontrapping-float-to-int", "bulk-memory", "multivalue", "reference-types", "exception-handling"].map((f) => `--enable-${f}`), "--debuginfo"];

const gz = (buf, level) => zlib.gzipSync(buf, { level }).length;

export function sizeOf(file) {
  const b = fs.readFileSync(file);
  // Level 6 is zlib's default (what `wrangler deploy` prints as "gzip"); 9 is the floor.
  return { raw: b.length, gzip: gz(b, 6), gzip9: gz(b, 9) };
}

/** Size of the whole upload: index.js + every .wasm/.js/.mjs under the build folder. */
export function bundleSize(dir) {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(wasm|m?js)$/.test(e.name)) files.push(p);
    }
  };
  walk(dir);
  const all = Buffer.concat(files.map((f) => fs.readFileSync(f)));
  return { files: files.map((f) => path.relative(dir, f)), raw: all.length, gzip: gz(all, 6) };
}

/**
 * A copy of `buildDir` whose wasm went through wasm-opt (npm binaryen, worker-build's flags),
 * cached under bench/results/.cache by the input's hash: wasm-opt takes ~30 s on this module.
 */
export function optimizedCopy(buildDir, log) {
  const wasm = fs.readFileSync(path.join(buildDir, "index_bg.wasm"));
  const hash = crypto.createHash("sha256").update(wasm).digest("hex").slice(0, 16);
  const cache = path.join(ROOT, "bench/results/.cache");
  const out = path.join(cache, `opt-${hash}`);
  if (!fs.existsSync(path.join(out, "index_bg.wasm"))) {
    fs.rmSync(cache, { recursive: true, force: true }); // keep one copy only
    fs.mkdirSync(cache, { recursive: true });
    fs.cpSync(buildDir, `${out}.tmp`, { recursive: true });
    const t0 = performance.now();
    execFileSync(path.join(ROOT, "node_modules/binaryen/bin/wasm-opt"), [path.join(buildDir, "index_bg.wasm"), "-o", path.join(`${out}.tmp`, "index_bg.wasm"), ...WASM_OPT_ARGS], { stdio: ["ignore", "ignore", "inherit"] });
    log?.(`wasm-opt ${WASM_OPT_ARGS[0]} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    fs.renameSync(`${out}.tmp`, out);
  } else {
    log?.("wasm-opt output reused from bench/results/.cache");
  }
  return out;
}
