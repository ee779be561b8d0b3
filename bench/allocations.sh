#!/usr/bin/env bash
# Heap allocations per webhook, a revision's service against the working
# tree's (README, Performance). Each side serves the load generator at a
# fixed RATE, from empty tables on one PostgreSQL (bench/lib.sh), while
# `perf stat` counts the service's calls to glibc's malloc (a uprobe;
# operator new goes through malloc) over the middle of the run; the webhooks
# committed in that window are read from the service's /metrics. A probe
# costs microseconds a call, so the rate is fixed and well below what
# either side answers: the count then describes the same work on both
# sides, and unlike a rate or a CPU time it does not move with the
# machine's speed. Needs root (uprobes) and perf (Debian's linux-perf).
# Usage:
#   bench/allocations.sh REV [RATE=2500] [SECONDS=12] [CONNECTIONS=256]
set -euo pipefail
rev=${1:?usage: bench/allocations.sh REV [RATE] [SECONDS] [CONNECTIONS]}
rate=${2:-2500}
duration=${3:-12}
connections=${4:-256}
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "counting allocations needs root (perf's uprobes)"
[ "$duration" -ge 6 ] || die "SECONDS is at least 6: the count leaves out 2 s at each end"
ensure_packages linux-perf curl
build_revision "$rev" shopmirror

libc=$(ldd "$bin/cli/shopmirror" | awk '/libc\.so/ {print $3}')
perf probe -q -d probe_libc:malloc 2>/dev/null || true
perf probe -q -x "$libc" malloc || die "perf could not place a probe on malloc in $libc"

scratch=$(mktemp -d /tmp/shopmirror-allocations-XXXXXX)
service_pid=""
cleanup() {
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null || true
  fi
  perf probe -q -d probe_libc:malloc 2>/dev/null || true
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

log "before: $commit ($before); after: the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with changes'))"
log "$rate webhooks/s over $connections connections for ${duration}s a side, worst workload; counted over the middle $((duration - 4))s"
start_bench_database "$scratch/pg" 5438

committed() { # webhooks the service has committed so far
  curl -sf http://127.0.0.1:18096/metrics | awk '/^shopmirror_db_batch_size_sum / {print $2}'
}

count_side() { # name build
  reset_bench_tables "$scratch/pg" 5438
  start_bench_service "$2/cli/shopmirror" 18096 "$scratch/service.log"
  "$bin/bench/shopmirror-loadgen" --url "http://127.0.0.1:18096/webhooks/shopify" \
    --secret bench-secret --rate "$rate" --duration "$duration" --connections "$connections" \
    --check-db "$url" >"$scratch/loadgen.out" 2>&1 &
  local loadgen_pid=$! first last mallocs
  sleep 2
  first=$(committed)
  mallocs=$(perf stat -x, -e probe_libc:malloc -p "$service_pid" -- sleep $((duration - 4)) 2>&1 \
    | awk -F, '/probe_libc:malloc/ {print $1}')
  last=$(committed)
  wait "$loadgen_pid" || { cat "$scratch/loadgen.out" >&2; die "$1: the load generator failed"; }
  grep -q ", 0 missing from the delivery log, 0 applied twice, .*, 0 not at" "$scratch/loadgen.out" \
    || die "$1: the database check failed"
  kill "$service_pid" && wait "$service_pid" 2>/dev/null || true
  service_pid=""
  [ -n "$mallocs" ] && [ "${last%.*}" -gt "${first%.*}" ] || die "$1: nothing was counted"
  awk -v m="$mallocs" -v a="$first" -v b="$last" -v side="$1" \
    'BEGIN {printf "%s: %d malloc calls for %d webhooks: %.1f a webhook\n", side, m, b - a, m / (b - a)}'
}

count_side before "$before"
count_side after "$bin"
