# Shared by the benchmarks: the release build, and a PostgreSQL of their own,
# set up alike so that their figures compare. Sourced, not run.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
cd "$SHOPMIRROR_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}" "${SERVER_PACKAGES[@]}"
# The benchmarks on; whether the tests are built stays as the tree had it.
build_preset release -DSHOPMIRROR_BUILD_BENCH=ON >/dev/null
bin=build/release
# The service the webhook benchmarks run and migrate their database with:
# another build's, to measure it beside this one with the same instruments
# (the ceiling, the load generator and the baseline stay this tree's).
service=${SHOPMIRROR_BENCH_SERVICE:-$bin/cli/shopmirror}

# A cluster in DIR listening on PORT (its socket in DIR/run), with durable
# commits, as in production, and memory sized for a 24 GiB machine; then a
# database `bench` at the latest schema. Sets `url` to it and
# `postgres_pid` to the server's. Extra server
# options may follow.
start_bench_database() { # dir port [options]
  local dir=$1 port=$2
  start_cluster "$dir" "$port" "-c fsync=on -c synchronous_commit=on -c shared_buffers=1GB \
    -c wal_buffers=64MB -c max_wal_size=8GB -c checkpoint_timeout=30min -c max_connections=100 \
    ${3:-}"
  url="host=$dir/run port=$port user=postgres dbname=bench"
  # The postmaster's pid: the benchmarks count the CPU of the whole server.
  postgres_pid=$(head -1 "$dir/data/postmaster.pid")
  psql -X -q -h "$dir/run" -p "$port" -U postgres -d postgres -c "create database bench"
  SHOPMIRROR_DATABASE_URL="$url" "$service" migrate 2>/dev/null
}

# Starts the service at BINARY on 127.0.0.1:PORT against the bench
# database, its log in LOG, any further NAME=VALUE settings in its
# environment; sets `service_pid` and gives it a second to listen.
start_bench_service() { # binary port log [NAME=VALUE...]
  local binary=$1 port=$2 log_file=$3
  shift 3
  env SHOPMIRROR_DATABASE_URL="$url" SHOPMIRROR_WEBHOOK_SECRETS=bench-secret \
    SHOPMIRROR_LISTEN="127.0.0.1:$port" SHOPMIRROR_LOG_LEVEL=warn "$@" \
    "$binary" serve 2>"$log_file" &
  service_pid=$!
  sleep 1
}

# Empties the tables a webhook run writes, and checkpoints, so that runs
# start alike and one run's versions cannot fail the next one's check.
reset_bench_tables() { # dir port
  psql -X -q -h "$1/run" -p "$2" -U postgres -d bench -c "truncate \
    shopify.webhook_deliveries, shopify.variant_barcodes, shopify.product_variants, \
    shopify.products, shopify.dead_letters, shopify.product_refresh_requests" -c "checkpoint"
}

# REV's sources in build/rev-REV (kept between runs), with this tree's
# bench/ so that both sides are measured with the same instruments, and
# TARGETS built there. Sets `commit` (REV, short) and `before` (its
# build's binaries).
build_revision() { # rev targets...
  local rev=$1 tree
  shift
  commit=$(git rev-parse --short "$rev^{commit}") || die "no such revision: $rev"
  tree=build/rev-$commit
  if [ ! -f "$tree/CMakeLists.txt" ]; then
    mkdir -p "$tree"
    git archive "$commit" | tar -x -C "$tree"
  fi
  rm -rf "$tree/bench" && cp -r bench "$tree/bench"
  log "building $commit in $tree"
  (cd "$tree" && cmake --preset release -DSHOPMIRROR_BUILD_BENCH=ON >/dev/null \
    && cmake --build --preset release --target "$@" >/dev/null) \
    || die "$commit did not build with this tree's bench/ (see $tree)"
  before=$tree/build/release
}
