#!/usr/bin/env bash
# Installs what the cluster tests (tests/cluster, ctest label `cluster`) need and is missing, from
# Debian 12: etcd-server (/usr/bin/etcd 3.4), PostgreSQL 15 (/usr/lib/postgresql/15/bin, and psql),
# iptables (the partition test, inside a network namespace it creates). The tests start their own
# etcd and PostgreSQL on loopback; the services these packages may enable on a systemd machine
# (etcd on 2379, PostgreSQL on 5432) are not used. A test skips with its reason when something it
# needs is missing. Called by scripts/setup.sh for `make test` only (not `make dev`).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PKGS=(etcd-server postgresql-15 postgresql-client-15 iptables)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "cluster_deps: installing ${missing[*]} (for the cluster tests)"
as_root apt-get update -qq || true
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
  { echo "cluster_deps: could not install ${missing[*]}; the cluster tests that need them will be skipped" >&2; exit 0; }
