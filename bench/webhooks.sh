#!/usr/bin/env bash
# The webhook throughput benchmark (README, Performance). Starts a PostgreSQL
# of its own with durable commits (fsync and synchronous_commit on), measures
# the database's ceiling with shopmirror-db-ceiling (the service's own
# database path, batches of 1, 10 and 64 from as many clients as the service
# has writer connections, no HTTP), then
# drives the service with shopmirror-loadgen:
#
#   sustained  as fast as answered, RUNS times (median reported)
#   target     a fixed rate of TARGET/s (default 8000), RUNS times
#   light      1000/s, RUNS times (p99 target 10 ms)
#   burst      twice the median sustained rate for 20 s, then 1000/s for 20 s
#
# Every run ends with the load generator's check of the database (every 200
# in the delivery log, nothing applied twice, every product at the newest
# acknowledged version), and with the CPU each request cost the service, the
# load generator and the rest of the machine (mostly PostgreSQL). Usage:
#   bench/webhooks.sh [DURATION_SECONDS=60] [RUNS=3] [TARGET=8000] [CONNECTIONS=256] [WORKLOAD=worst]
# SHOPMIRROR_BENCH_SERVICE=path/to/shopmirror runs another build's service
# (bench/lib.sh); the ceiling stays this tree's.
# WORKLOAD is what each update changes (tests/support/payloads.hpp): `worst`, every
# field and variant, or `inventory`, mostly one variant's inventory, as
# Shopify's products/update traffic is.
# Shopify delivers over many connections at once; with durable commits each
# batch waits for a WAL flush, so concurrency is what lets batches grow.
set -euo pipefail
duration=${1:-60}
runs=${2:-3}
target=${3:-8000}
connections=${4:-256}
workload=${5:-worst}
source "$(dirname "$0")/lib.sh"

scratch=$(mktemp -d /tmp/shopmirror-bench-XXXXXX)
service_pid=""
cleanup() {
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null || true
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

start_bench_database "$scratch/pg" 5432

log "workload: $workload"
log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Each run starts from empty tables, so runs are alike and one run's
# versions cannot fail the next one's check.
reset_tables() { reset_bench_tables "$scratch/pg" 5432; }

# The ceiling is measured the way the service uses the database: as many
# clients as it has writer connections (its default, set explicitly below).
writers=2
log "database ceiling: shopmirror-db-ceiling, the service's database path, $writers clients, ${duration}s each"
ceiling=0
for batch in 1 10 64; do
  reset_tables
  out=$("$bin/bench/shopmirror-db-ceiling" --database "$url" --batch "$batch" --clients "$writers" \
        --duration "$duration" --workload "$workload" --postgres-pid "$postgres_pid") || die "the ceiling run with batches of $batch failed: $out"
  echo "$out"
  rate=$(echo "$out" | sed -n 's/.*: \([0-9]*\) webhooks\/s.*/\1/p')
  [ "$rate" -gt "$ceiling" ] && ceiling=$rate
done

start_bench_service "$service" 18090 "$scratch/service.log" SHOPMIRROR_DB_CONNECTIONS="$writers"

loadgen() { # rate seconds seed
  "$bin/bench/shopmirror-loadgen" --url http://127.0.0.1:18090/webhooks/shopify --secret bench-secret \
    --rate "$1" --duration "$2" --connections "$connections" --seed "$3" --watch-pid "$service_pid" \
    --check-db "$url" --workload "$workload" --postgres-pid "$postgres_pid"
}

run_series() { # name rate
  local name=$1 rate=$2 out
  : >"$scratch/$name.rates"; : >"$scratch/$name.p99"; : >"$scratch/$name.p50"; : >"$scratch/$name.rss"
  : >"$scratch/$name.cpu"
  for run in $(seq "$runs"); do
    reset_tables
    # The load generator exits non-zero when its check fails; that is
    # reported below with the run's figures rather than ending the script.
    out=$(loadgen "$rate" "$duration" "$RANDOM$run") || true
    echo "$out" | sed "s/^/  $name run $run: /"
    echo "$out" | awk '/^requests:/ {print $7}' | tr -d '/s' >>"$scratch/$name.rates"
    echo "$out" | awk '/^latency/ {print $6}' >>"$scratch/$name.p99"
    echo "$out" | awk '/^latency/ {print $4}' >>"$scratch/$name.p50"
    echo "$out" | awk '/peak RSS/ {print $4}' >>"$scratch/$name.rss"
    echo "$out" | sed -n 's/.* service \([0-9.]*\) + .*/\1/p' >>"$scratch/$name.cpu"
    echo "$out" | grep -q ", 0 missing from the delivery log, 0 applied twice, .*, 0 not at" \
      || die "$name run $run: the database check failed"
  done
  echo "$name: median $(median <"$scratch/$name.rates")/s, p50 $(median <"$scratch/$name.p50") ms, p99 $(median <"$scratch/$name.p99") ms, peak RSS $(sort -n "$scratch/$name.rss" | tail -1) MB, service CPU $(median <"$scratch/$name.cpu") us per request"
}

run_series sustained 0
sustained=$(median <"$scratch/sustained.rates")
run_series target "$target"
run_series light 1000

burst=$(awk -v s="$sustained" 'BEGIN {printf "%.0f", 2 * s}')
log "burst: ${burst}/s for 20 s, then 1000/s for 20 s"
reset_tables
{ loadgen "$burst" 20 77 || true; } | sed 's/^/  burst: /'
reset_tables # versions restart with each load generator run
{ loadgen 1000 20 78 || true; } | sed 's/^/  after the burst: /'

echo "ceiling (best batch): $ceiling webhooks/s; sustained median $sustained/s = $(awk -v s="$sustained" -v c="$ceiling" 'BEGIN {printf "%.2f", s / c}') of it"
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
