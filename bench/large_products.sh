#!/usr/bin/env bash
# The large-product benchmark (README, Performance). Starts a PostgreSQL of
# its own with durable commits, migrates it, and runs
# shopmirror-large-products: for products of 100, 1,000 and 2,048 variants
# (Shopify's limit) with 255-character variant fields, the insert (a
# products/create) and the update (a products/update changing every
# variant), each applied alone through the service's database path; first
# with whole variants, then with variants that leave a field out (a
# subscription's include_fields), which merge field by field.
# Usage:
#   bench/large_products.sh [RUNS=5] [VARIANTS=100,1000,2048]
set -euo pipefail
runs=${1:-5}
variants=${2:-100,1000,2048}
source "$(dirname "$0")/lib.sh"

scratch=$(mktemp -d /tmp/shopmirror-large-bench-XXXXXX)
cleanup() {
  stop_cluster "$scratch/pg"
  rm -rf "$scratch"
}
trap cleanup EXIT

start_bench_database "$scratch/pg" 5434

log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/bench/shopmirror-large-products" --url "$url" --runs "$runs" --variants "$variants"
"$bin/bench/shopmirror-large-products" --url "$url" --runs "$runs" --variants "$variants" --trimmed
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
