#!/usr/bin/env bash
# `make test`: native unit tests, one wasm build, one dashboard build, the deploy dry run, then
# the e2e suites (the browser test of the dashboard among them) and the real-client suite
# against the built Worker in workerd, a real Postgres and a real redis-server (behind the
# Upstash REST bridge) this script starts (and always stops, also on failure).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t() { echo "== $* ($(date +%T))"; }

bash scripts/setup.sh

# A test run must leave the tree as it found it (caches, generated files and logs belong in
# ignored or temporary folders): the tracked and untracked state now, compared at the end.
tree_state() { { git status --porcelain=v1 --untracked-files=all; git diff HEAD; } 2>/dev/null | sha256sum; }
TREE_BEFORE=$(tree_state)

t "native unit tests"
cargo test --quiet 2>&1 | grep -v '^$'

t "build the Worker (wasm, once)"
WORKER_OPT=0 sh scripts/worker-build.sh >/dev/null 2>build.log || { cat build.log; exit 1; }

t "build the admin dashboard (once)"
(cd admin-ui && npm run build --silent) >build.log 2>&1 || { cat build.log; exit 1; }

t "deploy dry run (bundle, size, generated config, dashboard; nothing leaves the machine)"
DEPLOY_TMP=$(mktemp -d /tmp/maestro-test-deploy.XXXXXX)
if ! SETUP=0 BUILD=0 DRY_RUN=1 DEPLOY_DIR="$DEPLOY_TMP/out" LOOPBACK_GUARD_LOG="$DEPLOY_TMP/guard.log" \
    NODE_OPTIONS="--require $ROOT/tests/e2e/loopback-guard.cjs" node scripts/deploy.mjs >build.log 2>&1 \
    || [ -s "$DEPLOY_TMP/guard.log" ]; then
  cat build.log "$DEPLOY_TMP/guard.log" 2>/dev/null; rm -rf "$DEPLOY_TMP"; exit 1
fi
grep -E 'gzipped \(limit|Dry run passed' build.log
rm -rf "$DEPLOY_TMP"

t "start Postgres and Redis"
PGDIR=$(mktemp -d /tmp/maestro-test-pg.XXXXXX)
REDISDIR=$(mktemp -d /tmp/maestro-test-redis.XXXXXX)
cleanup() {
  node devtools/postgres.mjs stop "$PGDIR" >/dev/null 2>&1 || true
  node devtools/redis.mjs stop "$REDISDIR" >/dev/null 2>&1 || true
  rm -rf "$PGDIR" "$REDISDIR"
}
trap cleanup EXIT
PGPORT=$(node devtools/postgres.mjs start "$PGDIR")
export MAESTRO_TEST_PG_PORT=$PGPORT
echo "postgres on 127.0.0.1:$PGPORT"
export MAESTRO_TEST_REDIS_TOKEN="test-redis-$RANDOM$RANDOM"
MAESTRO_TEST_REDIS_URL=$(node devtools/redis.mjs start "$REDISDIR" "$MAESTRO_TEST_REDIS_TOKEN")
export MAESTRO_TEST_REDIS_URL
echo "redis (Upstash REST bridge) at $MAESTRO_TEST_REDIS_URL"

t "e2e: Worker in workerd + Postgres + Redis"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
node --require ./devtools/wrangler-guard.cjs --test --test-concurrency=1 --test-reporter=spec tests/e2e/ 2>&1 | tee tests/e2e.log | grep -v '^\s*$' | tail -n 400
rc=${PIPESTATUS[0]}

# The real clients (tests/clients: Claude Code, Codex, opencode, the AI SDK, LangChain, llm,
# the Ollama JS client, at the pins setup installed) against the same built Worker, two files
# at a time; each client call has its own time bound.
t "clients: real clients against the built Worker"
node --require ./devtools/wrangler-guard.cjs --test --test-concurrency=2 --test-reporter=spec tests/clients/*.test.mjs 2>&1 | tee tests/clients.log | grep -v '^\s*$' | tail -n 300
[ "${PIPESTATUS[0]}" = 0 ] || rc=1

# Every benchmark phase with a handful of requests against this run's Postgres: the harness keeps
# working (answers are checked, processes are stopped); no timing is asserted.
t "bench smoke (bench/run.mjs --smoke; no timings asserted)"
if node bench/run.mjs --smoke >/dev/null 2>tests/bench-smoke.log; then
  tail -n 1 tests/bench-smoke.log
else
  tail -n 40 tests/bench-smoke.log
  rc=1
fi
if [ "$(tree_state)" != "$TREE_BEFORE" ]; then
  echo "the test run changed the working tree (write caches and logs to ignored or temporary folders):"
  git status --short
  rc=1
fi
exit "$rc"
