#!/usr/bin/env bash
# Runs every test: machine set-up (dockerd, Redis), dependencies, build, lint, the workspace
# image, then the unit and system suites (system tests drive real Docker, Redis, s3rver, the
# workspace image and the Claude Agent SDK against the mock model).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
  ./scripts/setup-machine.sh
else
  sudo ./scripts/setup-machine.sh
fi
# The attack suite and the gVisor end-to-end test also run workspace containers under runsc.
if ! docker info --format '{{json .Runtimes}}' | grep -q '"runsc"'; then
  echo "[test] Docker has no runsc runtime (scripts/setup-machine.sh registers it)"; exit 1
fi

# The host and every test run on the supported LTS of image/node-version (staged from the npm
# registry when the machine's Node is older).
node_dir=$(./scripts/host-node.sh)
if [ -n "$node_dir" ]; then export PATH="$node_dir:$PATH"; fi
echo "[test] node $(node --version)"

# Installs exactly the lock file's versions, and only when node_modules is missing or older
# than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
npx tsc -p tsconfig.check.json --noEmit
npx eslint .
npx prettier --check . >/dev/null || { echo "[test] prettier: files are not formatted (npm run format)"; exit 1; }
node packages/host/bin/workcell.js image build

export WORKCELL_TEST_REDIS_URL=${WORKCELL_TEST_REDIS_URL:-redis://127.0.0.1:6379}
npx vitest run "$@"
