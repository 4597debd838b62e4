#!/usr/bin/env bash
# `make dev`: install what is missing, build the Worker, serve it at http://127.0.0.1:8787.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
echo "-- building the Worker"
WORKER_OPT=0 sh scripts/worker-build.sh >build.log 2>&1 || { cat build.log; exit 1; }
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
exec node --require ./devtools/wrangler-guard.cjs devtools/dev.mjs
