#!/usr/bin/env bash
# Where the database's time goes on the webhook path (README, Performance).
# Runs shopmirror-db-ceiling against a PostgreSQL of its own, set up as
# the other benchmarks (bench/lib.sh), with pg_stat_statements tracking the
# statements inside the apply functions too, then lists them by total time:
# milliseconds per call (one call per batch), rows per call, and each one's
# share of the top-level call's time. Usage:
#   bench/db_statements.sh [BATCH=64] [CLIENTS=2] [DURATION_SECONDS=20] [WORKLOAD=worst]
set -euo pipefail
batch=${1:-64}
clients=${2:-2}
duration=${3:-20}
workload=${4:-worst}
source "$(dirname "$0")/lib.sh"

scratch=$(mktemp -d /tmp/shopmirror-statements-XXXXXX)
cleanup() {
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

start_bench_database "$scratch/pg" 5432 \
  "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
sql() { psql -X -q -h "$scratch/pg/run" -p 5432 -U postgres "$@"; }
sql -d bench -c "create extension pg_stat_statements" -c "checkpoint" \
  -c "select pg_stat_statements_reset()" >/dev/null

log "machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/bench/shopmirror-db-ceiling" --database "$url" --batch "$batch" --clients "$clients" \
  --duration "$duration" --workload "$workload" --postgres-pid "$postgres_pid"

# The statement with the most time is the service's own call; the others
# run inside it (nested), so their shares are of its time.
sql -d bench -P footer=off -c "
  with s as (
    select total_exec_time, calls, rows, regexp_replace(query, '\s+', ' ', 'g') as query
    from pg_stat_statements
    where dbid = (select oid from pg_database where datname = 'bench') and calls > 0
  ), top as (select max(total_exec_time) as t from s)
  select round((total_exec_time / calls)::numeric, 3) as ms_per_call,
         calls,
         round(rows::numeric / calls, 1) as rows_per_call,
         round((100 * total_exec_time / top.t)::numeric, 1) as pct,
         left(query, 90) as statement
  from s, top
  order by total_exec_time desc
  limit 15"
