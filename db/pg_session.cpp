#include "db/pg_session.hpp"

#include "telemetry/log.hpp"

namespace shopmirror::db {

pg_session::pg_session(db_settings settings, std::vector<prepared_statement> statements,
                       std::function<void(pqxx::connection&)> on_connect)
    : settings_(std::move(settings)), conninfo_(connection_string(settings_)),
      statements_(std::move(statements)), on_connect_(std::move(on_connect)) {}

pqxx::connection& pg_session::connection() {
  if (connection_ && connection_->is_open()) {
    return *connection_;
  }
  connection_.reset();
  const auto now = std::chrono::steady_clock::now();
  if (last_failure_ != std::chrono::steady_clock::time_point{} &&
      now - last_failure_ < retry_pause_) {
    throw pqxx::broken_connection("database unreachable (" + last_error_ + ")");
  }
  try {
    auto connection = std::make_unique<pqxx::connection>(conninfo_);
    limit_session(*connection, limits_of(settings_));
    for (const auto& statement : statements_) {
      connection->prepare(statement.name, statement.sql);
    }
    if (on_connect_) {
      on_connect_(*connection);
    }
    connection_ = std::move(connection);
    if (last_failure_ != std::chrono::steady_clock::time_point{}) {
      telemetry::log_event(telemetry::level::info, "db_reconnected");
    }
    last_failure_ = {};
    return *connection_;
  } catch (const std::exception& e) {
    last_failure_ = now;
    last_error_ = e.what();
    while (!last_error_.empty() && (last_error_.back() == '\n' || last_error_.back() == ' ')) {
      last_error_.pop_back();
    }
    throw pqxx::broken_connection(last_error_);
  }
}

void pg_session::reset() noexcept {
  connection_.reset();
}

void limit_session(pqxx::connection& connection, session_limits limits) {
  pqxx::nontransaction setup(connection);
  // Every statement and every lock wait is bounded.
  setup.exec_params("select set_config('statement_timeout', $1, false), "
                    "set_config('lock_timeout', $2, false), "
                    "set_config('idle_in_transaction_session_timeout', $3, false), "
                    "set_config('timezone', 'UTC', false)",
                    std::to_string(limits.statement_timeout.count()),
                    std::to_string(limits.lock_timeout.count()),
                    std::to_string(limits.statement_timeout.count() * 5));
  setup.commit();
}

pqxx::result exec_binary(pqxx::transaction_base& tx, const std::string& statement,
                         const std::vector<std::string>& values) {
  // libpqxx sends a binarystring as a binary parameter, and any other value
  // as text.
  std::vector<pqxx::binarystring> binary;
  binary.reserve(values.size());
  for (const auto& value : values) {
    binary.emplace_back(value.data(), value.size());
  }
  return tx.exec_prepared(statement, pqxx::prepare::make_dynamic_params(binary));
}

} // namespace shopmirror::db
