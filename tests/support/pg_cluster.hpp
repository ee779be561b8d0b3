#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace shopmirror::test {

/// A PostgreSQL server of a test's own, in a temporary directory, for tests
/// that stop, kill or restart the database. Listens on a Unix socket in its
/// directory (and on 127.0.0.1 when `tcp`). When run as root, the server
/// runs as the `postgres` system user, since PostgreSQL refuses root.
class pg_cluster {
public:
  explicit pg_cluster(bool tcp = false);
  /// A streaming standby of `primary`, copied with pg_basebackup and
  /// connecting as `name` (what synchronous_standby_names lists).
  pg_cluster(const pg_cluster& primary, const std::string& name);
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  pg_cluster& operator=(const pg_cluster&) = delete;

  void start();
  /// `pg_ctl stop -m immediate`: like a crash; recovery runs on the next start.
  void stop_immediate();
  void stop_fast();
  /// SIGKILL to the postmaster and every process it started: no shutdown,
  /// no goodbye to the clients or the standbys.
  void kill();
  /// Ends recovery on a standby (pg_ctl promote, waiting for it).
  void promote();
  bool running() const;

  /// A libpq connection string for `database` as the superuser.
  std::string url(const std::string& database = "postgres") const;
  std::uint16_t port() const noexcept { return port_; }
  const std::string& directory() const noexcept { return directory_; }

  /// Runs SQL through psql as the superuser; throws on failure.
  void psql(const std::string& database, const std::string& sql) const;

private:
  void make_directory();
  void start_listening_on(std::uint16_t port);

  std::string directory_;
  std::uint16_t port_ = 0;
  bool tcp_ = false;
};

/// Runs a shell command, as the postgres user when we are root. Returns the
/// exit status.
int run_as_postgres(const std::string& command);

/// Where Debian keeps the PostgreSQL 15 server programs.
std::string pg_bin(const std::string& program);

/// Starts a program that must be told its TCP port before it binds (PostgreSQL,
/// PgBouncer, nginx): calls `start` with a port on 127.0.0.1 that was free a
/// moment ago; `start` throws if the program did not come up, with its log
/// in the message. Another process may bind the port between the choice and
/// the program's own bind, so a failure that says "Address already in use"
/// is tried again with a fresh port, up to five times. Returns the port the
/// program got. Servers of our own listen on port 0 instead.
std::uint16_t start_on_free_port(const std::function<void(std::uint16_t)>& start);

/// A port on 127.0.0.1 that refuses connections: bound but not listening,
/// so no other process can take it while this object lives.
class refused_port {
public:
  refused_port();
  ~refused_port();
  refused_port(const refused_port&) = delete;
  refused_port& operator=(const refused_port&) = delete;

  std::uint16_t port() const noexcept { return port_; }

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

} // namespace shopmirror::test
