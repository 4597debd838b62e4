#!/usr/bin/env bash
# `make clients-latest`: move every client pin of the client suite (tests/clients/package.json,
# tests/clients/requirements.txt) to the newest release, reinstall, build the Worker, run the
# client suite, and show how the pins moved. A client update that breaks the gateway shows up
# the day it ships; commit the new pins once the suite passes (or `git checkout` them back).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV="$HOME/.cache/maestro-edge/venv"

echo "== npm pins (tests/clients/package.json)"
(
  cd tests/clients
  for pkg in $(node -p 'Object.keys(require("./package.json").dependencies).join(" ")'); do
    latest=$(npm view "$pkg" version)
    node -e '
      const fs = require("fs"), [pkg, v] = process.argv.slice(1);
      const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
      if (p.dependencies[pkg] !== v) console.log(`${pkg}: ${p.dependencies[pkg]} -> ${v}`);
      p.dependencies[pkg] = v;
      fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");
    ' "$pkg" "$latest"
  done
  npm install --no-audit --no-fund --loglevel=error
)

echo "== PyPI pins (tests/clients/requirements.txt)"
tmp=$(mktemp)
while IFS= read -r line; do
  if [[ "$line" =~ ^([A-Za-z0-9_.-]+)==(.+)$ ]]; then
    pkg=${BASH_REMATCH[1]}
    latest=$("$VENV/bin/pip" index versions "$pkg" 2>/dev/null | sed -n '1s/.*(\(.*\)).*/\1/p')
    [ -n "$latest" ] || { echo "cannot find the newest $pkg" >&2; exit 1; }
    [ "$latest" != "${BASH_REMATCH[2]}" ] && echo "$pkg: ${BASH_REMATCH[2]} -> $latest"
    echo "$pkg==$latest" >>"$tmp"
  else
    echo "$line" >>"$tmp"
  fi
done <tests/clients/requirements.txt
mv "$tmp" tests/clients/requirements.txt

bash scripts/setup.sh
echo "== build the Worker"
WORKER_OPT=0 sh scripts/worker-build.sh >build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "== client suite"
set +e
WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false node --require ./devtools/wrangler-guard.cjs --test --test-concurrency=2 --test-reporter=spec tests/clients/*.test.mjs 2>&1 | tee tests/clients.log | grep -v '^\s*$' | tail -n 300
rc=${PIPESTATUS[0]}
set -e
echo "== how the pins moved"
git --no-pager diff -- tests/clients/package.json tests/clients/requirements.txt
exit "$rc"
