#!/usr/bin/env bash
# The apply path's cost in PostgreSQL, a revision against the working tree,
# side by side in one run (README, Performance). Builds REV's service, with
# this tree's benchmarks, in build/rev-REV (kept), starts one
# PostgreSQL (bench/lib.sh, durable commits), then for each workload runs
# shopmirror-db-ceiling RUNS times for each side, alternating which goes
# first: each run on a fresh database migrated by that side's binary, with
# that side's own database path. Reports, per side, the median rate and the
# median CPU the whole server spent per committed webhook, and the after/
# before ratio of each. Usage:
#   bench/apply_cost.sh REV [DURATION_SECONDS=20] [RUNS=3] [WORKLOADS="worst inventory"] [BATCH=64]
# REV's db::delivery_store must have the interface bench/db_ceiling.cpp uses.
set -euo pipefail
rev=${1:?usage: bench/apply_cost.sh REV [DURATION_SECONDS] [RUNS] [WORKLOADS] [BATCH]}
duration=${2:-20}
runs=${3:-3}
workloads=${4:-worst inventory}
batch=${5:-64}
source "$(dirname "$0")/lib.sh"

# REV's service and migrations, measured with the working tree's instruments.
build_revision "$rev" shopmirror shopmirror-db-ceiling

scratch=$(mktemp -d /tmp/shopmirror-apply-cost-XXXXXX)
cleanup() {
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT
start_bench_database "$scratch/pg" 5436
sql() { psql -X -q -h "$scratch/pg/run" -p 5436 -U postgres -d postgres "$@"; }
log "before: $commit ($before); after: the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with changes'))"
log "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg); batch $batch, 2 clients, ${duration}s a run"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_side() { # name build workload run -> "rate us"
  local name=$1 build=$2 db="cost_$1_$3_$4" out database
  sql -c "create database $db"
  database="host=$scratch/pg/run port=5436 user=postgres dbname=$db"
  SHOPMIRROR_DATABASE_URL="$database" "$build/cli/shopmirror" migrate 2>/dev/null
  sql -c "checkpoint"
  out=$("$build/bench/shopmirror-db-ceiling" --database "$database" --batch "$batch" --clients 2 \
        --duration "$duration" --workload "$3" --postgres-pid "$postgres_pid") \
    || die "$name, $3: the ceiling failed: $out"
  sql -c "drop database $db"
  echo "$out" | sed "s/^/  $name, $3, run $4: /" >&2
  echo "$(echo "$out" | sed -n 's/.*: \([0-9]*\) webhooks\/s.*/\1/p') \
$(echo "$out" | sed -n 's/^PostgreSQL cpu us per webhook: \([0-9.]*\).*/\1/p')"
}

for workload in $workloads; do
  : >"$scratch/before" && : >"$scratch/after"
  for run in $(seq 1 "$runs"); do
    if [ $((run % 2)) -eq 1 ]; then
      run_side before "$before" "$workload" "$run" >>"$scratch/before"
      run_side after "$bin" "$workload" "$run" >>"$scratch/after"
    else
      run_side after "$bin" "$workload" "$run" >>"$scratch/after"
      run_side before "$before" "$workload" "$run" >>"$scratch/before"
    fi
  done
  b_rate=$(cut -d' ' -f1 "$scratch/before" | median); a_rate=$(cut -d' ' -f1 "$scratch/after" | median)
  b_cpu=$(cut -d' ' -f2 "$scratch/before" | median); a_cpu=$(cut -d' ' -f2 "$scratch/after" | median)
  echo "$workload: webhooks/s $b_rate -> $a_rate ($(awk -v a="$a_rate" -v b="$b_rate" 'BEGIN {printf "%.2f", a / b}')x);" \
       "PostgreSQL cpu us per webhook $b_cpu -> $a_cpu ($(awk -v a="$a_cpu" -v b="$b_cpu" 'BEGIN {printf "%+.0f%%", 100 * (a - b) / b}'))" \
       "(medians of $runs)"
done
