#!/usr/bin/env bash
# Builds the workspace image's base from Debian packages alone (debootstrap + docker import),
# for machines where no image registry answers. Usage: build-base.sh <image-tag>
# The packages the workspace image needs are installed here already, so the Dockerfile's
# own apt step finds nothing missing and needs no network. Node.js is not among them: the
# image takes it from the npm registry (image/node-version).
set -euo pipefail
tag=${1:?usage: build-base.sh <image-tag>}
suite=${WORKCELL_DEBIAN_SUITE:-bookworm}
mirror=${WORKCELL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=git,python3,python3-pip,ripgrep,ca-certificates,curl,procps,libcap2-bin,iputils-ping,mount,util-linux

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "[base] $tag already present"; exit 0
fi
command -v debootstrap >/dev/null || { echo "[base] debootstrap is not installed (scripts/setup-machine.sh installs it)"; exit 1; }

root=$(mktemp -d /var/tmp/workcell-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "[base] debootstrap $suite into $root"
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -n 30 "$root.log"; exit 1; }
rm -f "$root.log"
# Trim what a container never needs: apt lists and caches, docs, man pages.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
echo "[base] importing as $tag"
tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$tag" >/dev/null
echo "[base] built $tag"
