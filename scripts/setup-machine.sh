#!/usr/bin/env bash
# Installs and starts what Workcell needs on a Debian machine: the Docker engine, Redis,
# debootstrap (offline image base), gVisor's runsc, and Debian's Chromium (the console's browser
# tests drive it headless with playwright-core, which never downloads a browser). Safe to run again: it only installs
# what is missing and only starts what is not running.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  log "run as root (it installs packages and starts dockerd)"; exit 1
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)  # redis-cli --cluster create (the test Redis Cluster)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v runsc >/dev/null 2>&1 || need+=(runsc)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
# Per-workspace disk volumes: sparse ext4 images, loop-mounted.
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need+=(mount)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || apt-get update
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# gVisor registered with Docker: --network=none because workspace containers have no network,
# --host-uds=all so Unix sockets on bind mounts (agent.sock, egress.sock) work.
daemon_json=/etc/docker/daemon.json
if command -v runsc >/dev/null 2>&1 && ! grep -q -- '--host-uds' "$daemon_json" 2>/dev/null; then
  mkdir -p /etc/docker
  runsc_path=$(command -v runsc)
  # Merged into an existing daemon.json, keeping its other settings.
  node -e '
    const fs = require("fs");
    const [file, path] = process.argv.slice(1);
    let config = {};
    try { config = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}
    config.runtimes = { ...(config.runtimes || {}), runsc: { path, runtimeArgs: ["--network=none", "--host-uds=all"] } };
    fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
  ' "$daemon_json" "$runsc_path"
  log "registered runsc in $daemon_json"
  if pgrep -x dockerd >/dev/null 2>&1; then
    kill -HUP "$(pgrep -x dockerd | head -n1)" || true
    sleep 1
  fi
fi

docker_bin=/usr/bin/docker
[ -x "$docker_bin" ] || docker_bin=docker
if ! "$docker_bin" info >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    # A killed dockerd leaves its pid file behind and a new one refuses to start.
    rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid
    log "starting dockerd"
    nohup dockerd >/var/log/workcell-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    "$docker_bin" info >/dev/null 2>&1 && break
    sleep 1
  done
  "$docker_bin" info >/dev/null 2>&1 || { log "dockerd did not answer; see /var/log/workcell-dockerd.log"; exit 1; }
fi
log "docker: $("$docker_bin" version --format '{{.Server.Version}}' 2>/dev/null)"

if ! redis-cli -p "${WORKCELL_TEST_REDIS_PORT:-6379}" ping >/dev/null 2>&1; then
  log "starting redis-server on port ${WORKCELL_TEST_REDIS_PORT:-6379}"
  redis-server --port "${WORKCELL_TEST_REDIS_PORT:-6379}" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 30); do redis-cli -p "${WORKCELL_TEST_REDIS_PORT:-6379}" ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
log "redis: $(redis-cli -p "${WORKCELL_TEST_REDIS_PORT:-6379}" ping)"
