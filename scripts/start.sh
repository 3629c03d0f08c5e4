#!/usr/bin/env bash
# Starts Workcell on one machine with its embedded defaults (in-memory state, a local
# directory for data): sets up the machine, installs, builds, builds the workspace image, then
# serves. Without model credentials it runs the built-in mock model and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then ./scripts/setup-machine.sh; else sudo ./scripts/setup-machine.sh; fi
# The host runs on the supported LTS of image/node-version (staged from the npm registry when
# the machine's Node is older).
node_dir=$(./scripts/host-node.sh)
if [ -n "$node_dir" ]; then export PATH="$node_dir:$PATH"; fi

# Installs exactly the lock file's versions when node_modules is missing or older than it.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
node packages/host/bin/workcell.js image build

args=()
if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ "${WORKCELL_MODEL_PROVIDER:-anthropic}" = "anthropic" ]; then
  echo "[start] ANTHROPIC_API_KEY is not set: starting with the built-in MOCK MODEL (replies are canned; see docs/api.md)"
  args+=(--mock-model)
fi
exec node packages/host/bin/workcell.js serve "${args[@]}" "$@"
