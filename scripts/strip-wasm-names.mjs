// Drops the wasm "name" custom section (function names for stack traces and profilers) from
// the built Worker: about 15 % of the gzipped upload, and Cloudflare caps Worker size.
// scripts/worker-build.sh runs it unless MAESTRO_WASM_NAMES=1 (bench/profile.mjs sets that, so
// CPU profiles show Rust function names). Usage: node scripts/strip-wasm-names.mjs FILE.wasm
import fs from "node:fs";

const file = process.argv[2];
const b = fs.readFileSync(file);
if (b.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file} is not a wasm module`);
let p = 8;
const leb = () => {
  let r = 0, s = 0, x;
  do {
    x = b[p++];
    r += (x & 0x7f) * 2 ** s;
    s += 7;
  } while (x & 0x80);
  return r;
};
const keep = [b.subarray(0, 8)];
let dropped = 0;
while (p < b.length) {
  const start = p;
  const id = b[p++];
  const size = leb();
  const body = p;
  let name = null;
  if (id === 0) {
    const len = leb();
    name = b.subarray(p, p + len).toString();
  }
  p = body + size;
  if (name === "name") dropped += p - start;
  else keep.push(b.subarray(start, p));
}
if (dropped) fs.writeFileSync(file, Buffer.concat(keep));
console.error(`strip-wasm-names: ${dropped ? `removed ${dropped} bytes of function names` : "no name section"} from ${file}`);
