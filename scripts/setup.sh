#!/usr/bin/env bash
# Installs what partyd needs to build and test on a fresh Debian 12 machine, and nothing that is
# already there: apt packages, V8 (Debian's Node 18 library, unpacked into third_party/ because a
# newer Node.js on these machines blocks its apt install), the npm packages the JS runtime bundles,
# and the npm clients the tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_PKGS=(g++ cmake make pkg-config libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libsqlite3-dev libssl-dev libgtest-dev esbuild libuv1 libicu72 libc-ares2 libnghttp2-14
  libbrotli1 zlib1g zlib1g-dev libicu-dev libmaxminddb-dev)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Test-only tools from Debian: Prometheus's promtool (tests/e2e/observe.test.mjs checks /metrics
# with it) and Chromium (tests/browser/ drives the inspector with it). A test that needs one skips
# with a message when it could not be installed; the build does not need them, so `make dev`
# (SETUP_NPM=0) skips them.
OPTIONAL_PKGS=(prometheus chromium)
optional=()
[ "${SETUP_NPM:-1}" = 1 ] || OPTIONAL_PKGS=()
for p in "${OPTIONAL_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || optional+=("$p")
done
if [ ${#optional[@]} -gt 0 ]; then
  echo "setup: installing ${optional[*]} (for the observability and browser tests)"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${optional[@]}" ||
    echo "setup: could not install ${optional[*]}; the tests that need them will be skipped" >&2
fi

# The cluster tests start their own etcd and PostgreSQL (and use iptables): test-only as well.
if [ "${SETUP_NPM:-1}" = 1 ]; then ./scripts/cluster_deps.sh; fi

NODE_DIR=$ROOT/third_party/node
if [ ! -f "$NODE_DIR/.ok" ]; then
  echo "setup: fetching libnode108 and libnode-dev (V8 10.2) into third_party/node"
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR/debs" "$NODE_DIR/root"
  (cd "$NODE_DIR/debs" && apt-get download libnode108 libnode-dev 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
  for d in "$NODE_DIR"/debs/*.deb; do dpkg -x "$d" "$NODE_DIR/root"; done
  test -f "$NODE_DIR/root/usr/include/node/v8.h"
  touch "$NODE_DIR/.ok"
fi

# The npm packages bundled into the JS runtime (src/api/js/package-lock.json): needed to build
# partyd, so installed also when SETUP_NPM=0. The build reinstalls them when the lockfile changes.
if [ ! -f src/api/js/node_modules/.package-lock.json ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed to build partyd (the runtime bundles npm packages)" >&2; exit 1; }
  echo "setup: installing the runtime's npm packages in src/api/js"
  (cd src/api/js && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "${SETUP_NPM:-1}" = 1 ] && [ -f tests/package.json ] &&
  { [ ! -f tests/node_modules/.ok ] || [ tests/package-lock.json -nt tests/node_modules/.ok ]; }; then
  echo "setup: installing the npm test clients in tests/"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.ok)
fi
