#!/usr/bin/env bash
# Builds the mediasoup worker from the mediasoup npm tarball against Debian's own
# libraries, for machines that cannot download mediasoup's prebuilt worker or its
# meson subprojects. The result is cached by mediasoup version outside the repo.
#
#   scripts/mediasoup-worker/build.sh <mediasoup-version>
#
# Prints the path of the worker binary on its last line of stdout.
set -euo pipefail

version=${1:?usage: build.sh <mediasoup-version>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/stagecast
worker_dir=$cache_root/mediasoup-worker/$version
worker_bin=$worker_dir/mediasoup-worker
log() { printf '[mediasoup-worker] %s\n' "$*" >&2; }

# A built worker exits 41 when MEDIASOUP_VERSION is unset: a cheap sanity check.
worker_ok() {
  [ -x "$1" ] || return 1
  local rc=0
  env -u MEDIASOUP_VERSION "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 41 ]
}

if worker_ok "$worker_bin"; then
  log "cached worker for mediasoup $version: $worker_bin"
  echo "$worker_bin"
  exit 0
fi

apt_pkgs=(build-essential pkg-config python3-venv ninja-build libuv1-dev libsrtp2-dev
  libabsl-dev flatbuffers-compiler libflatbuffers-dev dpkg-dev)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- OpenSSL: the upstream tarball shipped inside Debian's source package. -----
# Debian's libssl3 makes the worker crash in SSL_read during Chromium's DTLS
# handshake; the same worker linked against OpenSSL built from the upstream
# tarball completes DTLS-SRTP. It is linked statically.
ossl_root=$cache_root/openssl-build
if [ ! -f "$ossl_root/libssl.a" ] || [ ! -f "$ossl_root/libcrypto.a" ]; then
  src_list=/etc/apt/sources.list.d/stagecast-deb-src.sources
  if ! apt-get source --print-uris openssl >/dev/null 2>&1; then
    log "enabling Debian source packages (deb-src) for apt-get source"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src_list"
    apt-get update -q >&2
  fi
  # Only the orig tarball is used; a mirror may lack the newest version's files,
  # so take the newest version that downloads.
  orig=
  for v in $(apt-cache showsrc openssl | sed -n 's/^Version: //p' | sort -rV); do
    log "fetching Debian's openssl source package $v"
    if (cd "$work" && apt-get source --download-only "openssl=$v" >&2); then
      orig=$(ls "$work"/openssl_*.orig.tar.gz | head -n 1)
      break
    fi
  done
  [ -n "$orig" ] || { log "no openssl source package could be fetched"; exit 1; }
  mkdir -p "$work/openssl"
  tar -xzf "$orig" -C "$work/openssl" --strip-components=1
  log "building OpenSSL $(basename "$orig") (a few minutes)"
  (cd "$work/openssl" && ./Configure linux-x86_64 no-shared no-tests >&2 && make -j"$(nproc)" build_libs >&2)
  rm -rf "$ossl_root.tmp" && mkdir -p "$ossl_root.tmp"
  cp "$work/openssl/libssl.a" "$work/openssl/libcrypto.a" "$ossl_root.tmp/"
  cp -r "$work/openssl/include" "$ossl_root.tmp/include"
  rm -rf "$ossl_root" && mv "$ossl_root.tmp" "$ossl_root"
fi

# --- meson: Debian's 1.0.1 is older than the worker's meson_version. ---------
venv=$cache_root/meson-venv
if ! "$venv/bin/meson" --version >/dev/null 2>&1; then
  log "installing meson in $venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q meson >&2
fi

# --- The worker itself. -------------------------------------------------------
log "fetching mediasoup $version from the npm registry"
(cd "$work" && npm pack -q "mediasoup@$version" >/dev/null)
mkdir -p "$work/mediasoup"
tar -xzf "$work/mediasoup-$version.tgz" -C "$work/mediasoup" --strip-components=1
wdir=$work/mediasoup/worker

# meson uses a subproject folder that already exists instead of downloading the
# wrap: put our stand-ins (Debian's libraries) under the directory each wrap names.
for stand_in in "$here"/subprojects/*/; do
  name=$(basename "$stand_in")
  wrap=$wdir/subprojects/$name.wrap
  [ -f "$wrap" ] || { log "mediasoup $version has no $name.wrap: stand-ins need updating"; exit 1; }
  dir=$(sed -n 's/^directory *= *//p' "$wrap")
  cp -r "$stand_in" "$wdir/subprojects/$dir"
done

# Options that only some worker versions declare (liburing left mediasoup in 3.2x).
opts=()
grep -q "'ms_disable_liburing'" "$wdir/meson_options.txt" && opts+=(-Dms_disable_liburing=true)
log "configuring the worker"
(cd "$wdir" && PATH="$venv/bin:$PATH" meson setup build --wrap-mode=nodownload \
  --buildtype release -Db_ndebug=true "${opts[@]}" \
  -Dopenssl:ossl_root="$ossl_root" >&2)
log "compiling the worker (about 6 minutes on 2 cores for mediasoup 3.27)"
(cd "$wdir" && PATH="$venv/bin:$PATH" meson compile -C build flatbuffers-generator >&2 \
  && PATH="$venv/bin:$PATH" meson compile -C build mediasoup-worker >&2)

mkdir -p "$worker_dir"
cp "$wdir/build/mediasoup-worker" "$worker_bin.tmp"
mv "$worker_bin.tmp" "$worker_bin"
if ! worker_ok "$worker_bin"; then
  log "the built worker failed its sanity check (expected exit 41 without MEDIASOUP_VERSION)"
  rm -f "$worker_bin"
  exit 1
fi
log "built $worker_bin"
echo "$worker_bin"
