#pragma once

#include "tests/support/child_process.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace shopmirror::test {

/// Debian's PgBouncer in front of a PostgreSQL server, on 127.0.0.1, in a
/// temporary directory of its own; stopped (by pid) when destroyed. Every
/// database of the server is reachable through it as the superuser.
class pgbouncer_process {
public:
  /// `server` is a libpq connection string naming the server's host (or
  /// socket directory) and port; `pool_mode` is session or transaction.
  pgbouncer_process(const std::string& server, const std::string& pool_mode, int pool_size);
  ~pgbouncer_process();
  pgbouncer_process(const pgbouncer_process&) = delete;
  pgbouncer_process& operator=(const pgbouncer_process&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  /// `database` through PgBouncer.
  std::string url(const std::string& database) const;

private:
  void launch(std::uint16_t port, const std::string& host, const std::string& server_port,
              const std::string& pool_mode, int pool_size);

  std::string directory_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
};

/// When SHOPMIRROR_TEST_PGBOUNCER names a pool mode, the one PgBouncer this
/// test process puts in front of the shared server (started on first use);
/// otherwise null. test_database hands out URLs through it.
const pgbouncer_process* shared_pgbouncer();

} // namespace shopmirror::test
