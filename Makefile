# Maestro Edge. The two commands: `make dev` and `make test` (see README.md).
.PHONY: dev test build setup unit bench sim profile clean clients-latest deploy import-maestro presets prices

setup:
	@bash scripts/setup.sh

build: setup
	@WORKER_OPT=0 sh scripts/worker-build.sh

dev:
	@bash scripts/dev.sh

test:
	@bash scripts/test.sh

unit:
	@cargo test

# What the gateway adds over calling the origin directly (bench/README in README.md, "Benchmarks").
bench: setup sim
	@node bench/run.mjs

# The scale simulation at the target load (README, "Capacity model"): per-object call rates,
# usage backlog over a Postgres outage, limit accuracy, snapshot propagation.
sim:
	@cargo test --lib sim_full -- --ignored --nocapture

# Where the Worker's CPU goes, by function (V8 profiles of the isolate; see bench/profile.mjs).
profile: setup
	@node bench/profile.mjs

# Move the real clients of tests/clients to their newest releases, reinstall, run the client
# suite and show how the pins moved (README, "Clients tested").
clients-latest:
	@bash scripts/clients-latest.sh

# The Worker, its resources and the dashboard on Cloudflare, idempotently (README, "Deploying"):
#   make deploy DATABASE_URL=postgres://...   [ENV=staging] [DRY_RUN=1] [PLAN=paid]
deploy:
	@node scripts/deploy.mjs

clean:
	rm -rf build target .dev

# A Model Maestro installation into this gateway through its admin API (README, "Importing a
# Model Maestro database"). New user tokens go to a mode-600 CSV; re-running changes nothing.
#   make import-maestro DATABASE=postgres://... ADMIN_URL=https://gw.example ADMIN_TOKEN=... [DRY_RUN=1] [PRESETS=1] [TOKENS_CSV=file]
import-maestro:
	@node scripts/import-maestro.mjs

# Only the original's seed tool sets and model configs (create-only): make presets ADMIN_URL=... ADMIN_TOKEN=... [DRY_RUN=1]
presets:
	@node scripts/import-maestro.mjs --presets-only

# A price list into a running gateway (README, "Prices file"): upserts on model and node.
#   make prices FILE=prices/sample.json [ADMIN_URL=https://gw.example ADMIN_TOKEN=...]   (default: make dev's gateway)
prices:
	@node scripts/prices.mjs "$(FILE)"
