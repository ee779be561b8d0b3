# Shared by scripts/run and scripts/test: Debian packages, the build, and
# PostgreSQL clusters that the project owns. Sourced, not run.

SHOPMIRROR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PG_BIN=/usr/lib/postgresql/15/bin

# What building and running shopmirror needs, all from Debian 12.
BUILD_PACKAGES=(g++ cmake ninja-build pkg-config libboost1.81-dev libpqxx-dev libpq-dev
                rapidjson-dev doctest-dev libssl-dev ca-certificates)
SERVER_PACKAGES=(postgresql-15 postgresql-client-15 acl)
# What the test suite adds: a real nginx in front of the service, openssl
# for its throwaway certificate, systemd-analyze for the unit file, clang
# and its runtime (libFuzzer, sanitizers) for the fuzz targets, chromium
# (headless) for the status page as a browser shows it, and promtool (in
# Debian's prometheus package) for the shipped alert rules, PgBouncer.
TEST_PACKAGES=(nginx openssl systemd clang libclang-rt-14-dev clang-tidy clang-format chromium prometheus pgbouncer)

log() { printf '\033[1mshopmirror:\033[0m %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# Installs whichever of the named packages are missing (as root), or says
# what to install.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})"
  fi
  log "installing ${missing[*]}"
  if [ -z "${SHOPMIRROR_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    export SHOPMIRROR_APT_UPDATED=1
  fi
  # Debian's packages would start their own services (a PostgreSQL cluster on
  # 5432, nginx on 80); shopmirror runs its own instead, so forbid that for
  # the install (policy-rc.d, the Debian way).
  local policy=/usr/sbin/policy-rc.d made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$made_policy" ] && rm -f "$policy"
  return 0
}

# Configures and builds one CMake preset (every target, or those named after
# `--targets`).
build_preset() {
  local preset=$1; shift
  local configure=() targets=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--targets" ]; then shift; targets=("$@"); break; fi
    configure+=("$1"); shift
  done
  log "building ($preset)"
  cmake --preset "$preset" "${configure[@]}" >/dev/null
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build --preset "$preset" --target "${targets[@]}"
  else
    cmake --build --preset "$preset"
  fi
}

# Runs a command as the owner of PostgreSQL's files: the postgres system
# user when we are root (PostgreSQL refuses to run as root), else us.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# As root, the postgres user must be able to walk to a directory that lives
# under ours (a checkout in /root, say): grant it search permission on each
# ancestor that denies it, and say so.
grant_pg_traversal() {
  local dir=$1
  [ "$(id -u)" -eq 0 ] || return 0
  local path=""
  IFS='/' read -ra parts <<<"${dir#/}"
  for part in "${parts[@]}"; do
    path="$path/$part"
    if ! runuser -u postgres -- test -x "$path" 2>/dev/null; then
      log "letting the postgres user traverse $path (setfacl -m u:postgres:x)"
      setfacl -m u:postgres:x "$path"
    fi
  done
}

# Creates a cluster in $1 (if it has none) and starts it listening on a Unix
# socket in $1/run, port $2, with extra server options $3.
start_cluster() {
  local dir=$1 port=$2 options=${3:-}
  mkdir -p "$dir/run"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$dir"
    grant_pg_traversal "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in $dir/data"
    as_pg_owner "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || die "initdb failed; see $dir/initdb.log"
  fi
  if as_pg_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    return 0
  fi
  as_pg_owner "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
    -o "-p $port -k $dir/run -c listen_addresses='' $options" start >/dev/null \
    || die "PostgreSQL did not start; see $dir/server.log"
}

stop_cluster() {
  local dir=$1
  as_pg_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}
