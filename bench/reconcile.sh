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
sizes=${1:-10000,100000}
mode=${2:-bulk}
shift $(( $# > 2 ? 2 : $# ))
source "$(dirname "$0")/lib.sh"

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

start_bench_database "$scratch/pg" 5433

log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
log "reconcile ($mode), catalogs of $sizes products"
TMPDIR="$scratch" "$bin/bench/shopmirror-reconcile-bench" --database-url "$url" --products "$sizes" --mode "$mode" \
  --binary "$bin/cli/shopmirror" "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=""
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
