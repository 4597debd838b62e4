#!/bin/sh
# Offline-safe worker-build: worker-build would download wasm-bindgen and wasm-opt from GitHub,
# which these machines cannot reach, so point it at the copies scripts/setup.sh installed.
# WORKER_OPT=0 skips wasm-opt (dev/test builds); deploy builds keep it on. The wasm's function
# names are dropped afterwards (smaller upload) unless MAESTRO_WASM_NAMES=1 (CPU profiles).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${MAESTRO_TOOLS:-$HOME/.cache/maestro-edge/tools}"
export PATH="$TOOLS/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$TOOLS/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}"
cd "$ROOT"
if [ "${WORKER_OPT:-1}" = "0" ]; then set -- --no-opt "$@"; fi
worker-build --release "$@"
if [ "${MAESTRO_WASM_NAMES:-0}" != "1" ]; then node scripts/strip-wasm-names.mjs build/index_bg.wasm; fi
