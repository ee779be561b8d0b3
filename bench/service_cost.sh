#!/usr/bin/env bash
# The service's own cost, a revision against the working tree, side by side
# in one run (README, Performance). Builds REV's service and
# shopmirror-path-cost, with this tree's benchmarks, in build/rev-REV
# (kept); runs both path costs (the stages in isolation, one thread); then,
# on one PostgreSQL (bench/lib.sh, durable commits), drives each side's
# service RUNS times with the load generator as fast as it answers,
# alternating which goes first, each run from empty tables. Reports, per
# side, the median rate and the median CPU per answered request of the
# service, of PostgreSQL and of the load generator: the load generator's
# is the same program on both sides, so it shows how the machine's speed
# moved between runs. Usage:
#   bench/service_cost.sh REV [DURATION_SECONDS=20] [RUNS=3] [CONNECTIONS=256] [WORKLOAD=worst]
set -euo pipefail
rev=${1:?usage: bench/service_cost.sh REV [DURATION_SECONDS] [RUNS] [CONNECTIONS] [WORKLOAD]}
duration=${2:-20}
runs=${3:-3}
connections=${4:-256}
workload=${5:-worst}
source "$(dirname "$0")/lib.sh"

build_revision "$rev" shopmirror shopmirror-path-cost

scratch=$(mktemp -d /tmp/shopmirror-service-cost-XXXXXX)
service_pid=""
cleanup() {
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null || true
  fi
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

log "before: $commit ($before); after: the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with changes'))"
log "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg); $connections connections, workload $workload, ${duration}s a run"

for side in before after; do
  build=$([ "$side" = before ] && echo "$before" || echo "$bin")
  "$build/bench/shopmirror-path-cost" --iterations 20000 --variants 6 | sed "s/^/  $side, path cost: /" >&2
done

start_bench_database "$scratch/pg" 5437
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_side() { # name build run -> "rate service postgres loadgen"
  local out
  reset_bench_tables "$scratch/pg" 5437
  start_bench_service "$2/cli/shopmirror" 18094 "$scratch/service.log"
  out=$("$bin/bench/shopmirror-loadgen" --url "http://127.0.0.1:18094/webhooks/shopify" \
    --secret bench-secret --rate 0 --duration "$duration" --connections "$connections" \
    --seed "$3" --watch-pid "$service_pid" --check-db "$url" --workload "$workload" \
    --postgres-pid "$postgres_pid") || true
  kill "$service_pid" && wait "$service_pid" 2>/dev/null || true
  service_pid=""
  echo "$out" | sed "s/^/  $1, run $3: /" >&2
  echo "$out" | grep -q ", 0 missing from the delivery log, 0 applied twice, .*, 0 not at" \
    || die "$1, run $3: the database check failed"
  echo "$(echo "$out" | awk '/^requests:/ {print $7}' | tr -d '/s') \
$(echo "$out" | sed -n 's/.*= service \([0-9.]*\) + PostgreSQL \([0-9.]*\) + load generator \([0-9.]*\).*/\1 \2 \3/p')"
}

: >"$scratch/before" && : >"$scratch/after"
for run in $(seq 1 "$runs"); do
  if [ $((run % 2)) -eq 1 ]; then
    run_side before "$before" "$run" >>"$scratch/before"
    run_side after "$bin" "$run" >>"$scratch/after"
  else
    run_side after "$bin" "$run" >>"$scratch/after"
    run_side before "$before" "$run" >>"$scratch/before"
  fi
done
column_median() { cut -d' ' -f"$2" "$scratch/$1" | median; }
change() { awk -v a="$2" -v b="$1" 'BEGIN {printf "%+.0f%%", 100 * (a - b) / b}'; }
for field in "1 webhooks/s" "2 service cpu us per request" "3 PostgreSQL cpu us per request" \
  "4 load generator cpu us per request"; do
  b=$(column_median before "${field%% *}"); a=$(column_median after "${field%% *}")
  echo "${field#* }: $b -> $a ($(change "$b" "$a")) (medians of $runs)"
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
