#!/usr/bin/env bash
# shopmirror beside a conventional service (bench/baseline_service.cpp: a
# thread per connection, one transaction per webhook) on one PostgreSQL,
# with the same load generator, bodies and database check (README,
# Performance). For each number of connections, RUNS alternating runs of
# each, as fast as they answer; reports each one's median rate and the
# ratio. Beside them, in the same rounds, the database alone: the service's
# own database path (shopmirror-db-ceiling, no HTTP, signatures or JSON)
# with no more deliveries in flight than the connections carry, which is
# the most any service on that path could answer; its ratio to the
# baseline bounds what the target can be on this machine. Usage:
#   bench/baseline.sh [DURATION_SECONDS=30] [RUNS=3] [CONNECTIONS="256 32"] [WORKLOAD=worst] [POOL=16]
# SHOPMIRROR_BENCH_SERVICE=path/to/shopmirror runs another build's service
# (bench/lib.sh), e.g. the one bench/apply_cost.sh builds.
set -euo pipefail
duration=${1:-30}
runs=${2:-3}
connection_counts=${3:-256 32}
workload=${4:-worst}
pool=${5:-16}
source "$(dirname "$0")/lib.sh"

scratch=$(mktemp -d /tmp/shopmirror-baseline-XXXXXX)
service_pid=""
baseline_pid=""
cleanup() {
  for pid in $service_pid $baseline_pid; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

start_bench_database "$scratch/pg" 5434
log "service: $service; workload: $workload; baseline pool: $pool connections; machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
reset_tables() { reset_bench_tables "$scratch/pg" 5434; }

start_bench_service "$service" 18092 "$scratch/service.log"
"$bin/bench/shopmirror-baseline" --port 18093 --database "$url" --secret bench-secret \
  --pool "$pool" >"$scratch/baseline.log" 2>&1 &
baseline_pid=$!
sleep 1

run_one() { # name port pid connections seed
  local out
  reset_tables
  out=$("$bin/bench/shopmirror-loadgen" --url "http://127.0.0.1:$2/webhooks/shopify" \
    --secret bench-secret --rate 0 --duration "$duration" --connections "$4" --seed "$5" \
    --watch-pid "$3" --check-db "$url" --workload "$workload" --postgres-pid "$postgres_pid") || true
  echo "$out" | sed "s/^/  $1, $4 connections: /" >&2
  echo "$out" | grep -q ", 0 missing from the delivery log, 0 applied twice, .*, 0 not at" \
    || die "$1 with $4 connections: the database check failed"
  echo "$out" | grep -q "statuses: 200=[0-9]*$" || die "$1 with $4 connections: not every answer was 200"
  echo "$out" | awk '/^requests:/ {print $7}' | tr -d '/s'
}

# The service's two writers (its default) each take at most 64 deliveries
# (SHOPMIRROR_DB_BATCH_MAX's default) and, together, no more than the
# connections have sent: so the database alone is measured with two clients
# at batches of min(64, connections / 2), and with one client at batches of
# min(64, connections), the larger of the two rates kept.
database_alone() { # connections
  local best=0 clients batch rate
  for clients in 2 1; do
    batch=$(($1 / clients < 64 ? $1 / clients : 64))
    reset_tables
    rate=$("$bin/bench/shopmirror-db-ceiling" --database "$url" --batch "$batch" --clients "$clients" \
      --duration "$duration" --workload "$workload" --postgres-pid "$postgres_pid" |
      awk '/^ceiling/ {print $4}')
    echo "  database alone, batches of $batch from $clients clients: $rate/s" >&2
    best=$((rate > best ? rate : best))
  done
  echo "$best"
}

ratio() { awk -v s="$1" -v b="$2" 'BEGIN {printf "%.2f", s / b}'; }
for connections in $connection_counts; do
  : >"$scratch/service.rates"; : >"$scratch/baseline.rates"; : >"$scratch/alone.rates"
  for run in $(seq "$runs"); do
    run_one shopmirror 18092 "$service_pid" "$connections" "$run" >>"$scratch/service.rates"
    run_one baseline 18093 "$baseline_pid" "$connections" "$run" >>"$scratch/baseline.rates"
    database_alone "$connections" >>"$scratch/alone.rates"
  done
  s=$(median <"$scratch/service.rates"); b=$(median <"$scratch/baseline.rates")
  a=$(median <"$scratch/alone.rates")
  echo "$connections connections: shopmirror median ${s}/s ($(paste -sd' ' "$scratch/service.rates")), baseline median ${b}/s ($(paste -sd' ' "$scratch/baseline.rates")): $(ratio "$s" "$b") times"
  echo "$connections connections: the database alone median ${a}/s ($(paste -sd' ' "$scratch/alone.rates")): $(ratio "$a" "$b") times the baseline, the most this database path allows; shopmirror at $(ratio "$s" "$a") of it"
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
