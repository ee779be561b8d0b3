#pragma once

// Internal to db/: one PostgreSQL connection owned by one thread.

#include "db/settings.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace shopmirror::db {

/// A statement prepared on every connection the session opens.
struct prepared_statement {
  std::string name;
  std::string sql;
};

/// A connection that is opened on first use and reopened after it is lost,
/// with its session settings and prepared statements. Not thread-safe: a
/// session belongs to one thread.
class pg_session {
public:
  /// `on_connect` runs on every connection the session opens, after the
  /// statements are prepared (to read what is per database, such as a
  /// composite type's oid).
  pg_session(db_settings settings, std::vector<prepared_statement> statements,
             std::function<void(pqxx::connection&)> on_connect = {});

  /// The open connection, connecting first if needed. Throws
  /// pqxx::broken_connection if the database cannot be reached; within
  /// `retry_pause` of a failed attempt it throws at once, so an outage is
  /// answered fast instead of by every caller waiting out a connect timeout.
  pqxx::connection& connection();

  /// Drops the connection (after it broke); the next use reconnects.
  void reset() noexcept;

  bool connected() const noexcept { return connection_ != nullptr; }

  const db_settings& settings() const noexcept { return settings_; }

private:
  db_settings settings_;
  std::string conninfo_;
  std::vector<prepared_statement> statements_;
  std::function<void(pqxx::connection&)> on_connect_;
  std::unique_ptr<pqxx::connection> connection_;
  std::chrono::steady_clock::time_point last_failure_{};
  std::string last_error_;
  std::chrono::milliseconds retry_pause_{250};
};

/// How long a connection's statements and lock waits may take (0: no
/// limit, which a caller must explain).
struct session_limits {
  std::chrono::milliseconds statement_timeout;
  std::chrono::milliseconds lock_timeout;
};

/// The settings' limits, those of a request's work.
inline session_limits limits_of(const db_settings& settings) {
  return {settings.statement_timeout, settings.lock_timeout};
}

/// Sets the session limits of every connection shopmirror opens: the
/// statement and lock timeouts, the idle-in-transaction timeout (five
/// statement timeouts) and UTC as the session's time zone.
void limit_session(pqxx::connection& connection, session_limits limits);

/// Runs a prepared statement with every parameter in the binary format
/// (db/binary_array.hpp; a text parameter's binary form is its bytes).
pqxx::result exec_binary(pqxx::transaction_base& tx, const std::string& statement,
                         const std::vector<std::string>& values);

/// The schema version recorded in the database (0 if none), read on an open
/// connection. Defined in migrate.cpp.
int read_schema_version(pqxx::connection& connection);

} // namespace shopmirror::db
