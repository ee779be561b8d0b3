#!/usr/bin/env bash
# The reconcile benchmark (README, Performance). Starts a PostgreSQL of its
# own with durable commits (fsync and synchronous_commit on), migrates it,
# and runs shopmirror-reconcile-bench: for each catalog size, a generated
# catalog in the Admin API stand-in, `shopmirror reconcile` into an empty
# mirror and then again with nothing changed, each with its wall time,
# products/s and peak RSS, and the mirror checked against the catalog.
# Usage:
#   bench/reconcile.sh [SIZES=10000,100000] [MODE=bulk|paginated] [extra bench options...]
# Paginated mode is bound by the cost bucket (Standard: 100 points/s); pass
# e.g. --bucket-size 20000 --restore-rate 1000 for a Plus store.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SHOPMIRROR_ROOT"
sizes=${1:-10000,100000}
mode=${2:-bulk}
shift $(( $# > 2 ? 2 : $# ))

ensure_packages "${BUILD_PACKAGES[@]}" "${SERVER_PACKAGES[@]}"
# Whatever the build tree was configured with (tests on or off) stays so.
build_preset release >/dev/null
bin=build/release

scratch=$(mktemp -d /tmp/shopmirror-reconcile-bench-XXXXXX)
bench_pid=""
cleanup() {
  # The benchmark kills its own child at its timeout; stop it (and so its
  # child's stand-in) if we are interrupted first.
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null || true
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

# Durable commits, as in production; memory sized for a 24 GiB machine.
start_cluster "$scratch/pg" 5433 "-c fsync=on -c synchronous_commit=on -c shared_buffers=1GB \
  -c wal_buffers=64MB -c max_wal_size=8GB -c checkpoint_timeout=30min -c max_connections=100"
url="host=$scratch/pg/run port=5433 user=postgres dbname=bench"
psql -X -q -h "$scratch/pg/run" -p 5433 -U postgres -d postgres -c "create database bench"
SHOPMIRROR_DATABASE_URL="$url" "$bin/ingest/shopmirror" migrate 2>/dev/null

log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
log "reconcile ($mode), catalogs of $sizes products"
TMPDIR="$scratch" "$bin/bench/shopmirror-reconcile-bench" --database-url "$url" --products "$sizes" --mode "$mode" \
  --binary "$bin/ingest/shopmirror" "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=""
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
