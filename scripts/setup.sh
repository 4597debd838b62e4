#!/usr/bin/env bash
# Install everything the project needs, idempotently: each step checks first and is skipped
# when already done. Tools go to ~/.cache/maestro-edge/tools, which survives across runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TOOLS="${MAESTRO_TOOLS:-$HOME/.cache/maestro-edge/tools}"
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$PATH"
say() { echo "-- setup: $*"; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Rust target for the Worker.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# worker-build, and wasm-bindgen-cli at exactly the version Cargo.lock resolved (worker-build
# would download both from GitHub, which these machines cannot reach).
WB_VER=0.8.7
WBG_VER=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$WB_VER" ]; then
  say "installing worker-build $WB_VER (a few minutes, once)"
  cargo install -q worker-build --version "=$WB_VER" --root "$TOOLS"
fi
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WBG_VER" ]; then
  say "installing wasm-bindgen-cli $WBG_VER (a few minutes, once)"
  # Not --locked: its lockfile pins a webpki-roots release this registry lacks.
  cargo install -q wasm-bindgen-cli --version "=$WBG_VER" --root "$TOOLS"
fi

# npm packages (wrangler/miniflare/workerd, binaryen's wasm-opt, PGlite), exactly as locked.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The real clients the client suite drives (tests/clients: Claude Code, Codex, opencode, the AI
# SDK, the Ollama JS client), at the versions its own lockfile pins, kept out of the root
# package.json (they are large, and `make clients-latest` moves them on their own).
if [ ! -f tests/clients/node_modules/.package-lock.json ] || [ tests/clients/package-lock.json -nt tests/clients/node_modules/.package-lock.json ]; then
  say "npm install (tests/clients, as locked)"
  # Not `npm ci`: opencode-ai lists a binary package per platform as optional dependencies and
  # this registry serves only the linux-x64 ones, so the lockfile cannot name the others and
  # `npm ci` refuses it as out of sync. `npm install` installs exactly the locked versions and
  # leaves the lockfile as it is (checked: `npm install --package-lock-only` changes nothing).
  (cd tests/clients && npm install --no-audit --no-fund --loglevel=error)
fi

# PostgreSQL server binaries (tests start their own cluster; psql drives fixtures).
if ! command -v psql >/dev/null || { ! [ -x /usr/local/bin/initdb ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  say "installing postgresql (Debian)"
  apt_install postgresql postgresql-client
fi
# Redis for the optional Upstash backend: tests (and `make dev` with MAESTRO_REDIS=1) run a
# throw-away redis-server behind devtools/upstash_bridge.py.
if ! command -v redis-server >/dev/null; then
  say "installing redis-server (Debian)"
  apt_install redis-server
  # The package starts a system-wide instance on 6379; nothing here uses it.
  { systemctl disable --now redis-server || service redis-server stop; } >/dev/null 2>&1 || true
fi
# One venv for the Python the tests run: the official client SDKs the acceptance tests drive
# (tests/sdk/requirements.txt) and the Upstash REST bridge's redis client
# (devtools/requirements.txt). Each file is installed again only when it changed.
VENV="$HOME/.cache/maestro-edge/venv"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the test venv"
  python3 -m venv "$VENV"
fi
for req in tests/sdk/requirements.txt devtools/requirements.txt; do
  mark="$VENV/.requirements"
  [ "$req" = devtools/requirements.txt ] && mark="$VENV/.requirements-devtools"
  if ! cmp -s "$req" "$mark" 2>/dev/null; then
    say "installing Python packages from $req"
    "$VENV/bin/pip" install -q -r "$req"
    cp "$req" "$mark"
  fi
done
# The Python clients of the client suite (LangChain, llm + llm-ollama), in the same venv, held
# to the SDK pins above (again when either file changed).
mark="$VENV/.requirements-clients"
if ! cat tests/clients/requirements.txt tests/sdk/requirements.txt | cmp -s - "$mark" 2>/dev/null; then
  say "installing Python packages from tests/clients/requirements.txt"
  "$VENV/bin/pip" install -q -r tests/clients/requirements.txt -c tests/sdk/requirements.txt
  cat tests/clients/requirements.txt tests/sdk/requirements.txt >"$mark"
fi

# Admin dashboard (admin-ui/): its own lockfile, installed exactly as locked.
if [ ! -f admin-ui/node_modules/.package-lock.json ] || [ admin-ui/package-lock.json -nt admin-ui/node_modules/.package-lock.json ]; then
  say "npm ci (admin-ui)"
  (cd admin-ui && npm ci --no-audit --no-fund --loglevel=error)
fi

# Debian's chromium for the dashboard's browser test: playwright-core drives it, because
# browser downloads (npx playwright install) cannot reach their hosts from these machines.
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium (Debian)"
  apt_install chromium
fi
exit 0
