#include "db/health.hpp"

#include "db/migrate.hpp"
#include "db/migrations.hpp"
#include "db/pg_session.hpp"
#include "telemetry/log.hpp"

#include <pqxx/pqxx>

#include <stdexcept>

namespace shopmirror::db {

bool sessions_are_shared(const db_settings& settings) {
  const std::string conninfo = connection_string(settings);
  const auto backend = [&](pqxx::connection& connection) {
    pqxx::nontransaction tx(connection);
    return tx.exec1("select pg_backend_pid()")[0].as<int>();
  };
  pqxx::connection first(conninfo);
  pqxx::connection second(conninfo);
  limit_session(first, limits_of(settings));
  limit_session(second, limits_of(settings));
  const int a = backend(first);
  const int b = backend(second);
  return a == b;
}

readiness_monitor::readiness_monitor(db_settings settings, bool migrate,
                                     std::chrono::milliseconds interval)
    : settings_(std::move(settings)),
      session_(std::make_unique<pg_session>(settings_, std::vector<prepared_statement>{})),
      migrate_(migrate), interval_(interval) {
  loop_.start([this] { run(); });
}

readiness_monitor::~readiness_monitor() {
  stop();
}

void readiness_monitor::stop() {
  loop_.stop();
}

readiness readiness_monitor::current() const {
  std::lock_guard lock(mutex_);
  return state_;
}

readiness readiness_monitor::check_now() {
  std::lock_guard check(check_mutex_);
  readiness next;
  try {
    bool read_only = false;
    int version = read_session(read_only);
    check_not_pooled();
    if (read_only) {
      // Dropped, so that the next check connects again and a multi-host
      // string can find the new primary.
      session_->reset();
      throw std::runtime_error("the database is read-only (a standby?): writes would be refused; "
                               "name the primary, or add target_session_attrs=read-write to a "
                               "multi-host SHOPMIRROR_DATABASE_URL");
    }
    if (version < latest_schema_version() && migrate_) {
      version = migrate(settings_).to_version;
    }
    next.schema_version = version;
    next.ready = version >= latest_schema_version();
    next.reason = next.ready
                      ? "ok"
                      : "schema version " + std::to_string(version) + " is older than " +
                            std::to_string(latest_schema_version()) + "; run shopmirror migrate";
  } catch (const std::exception& e) {
    next.ready = false;
    next.reason = e.what();
  }
  publish(next);
  return next;
}

int readiness_monitor::read_session(bool& read_only) {
  try {
    const int version = read_schema_version(session_->connection());
    // A standby (or a read-only default) takes connections and reads,
    // but every delivery would be refused: not ready.
    pqxx::nontransaction tx(session_->connection());
    read_only = tx.exec1("select pg_is_in_recovery() or "
                         "current_setting('transaction_read_only') = 'on'")[0]
                    .as<bool>();
    return version;
  } catch (...) {
    session_->reset();
    pooling_checked_ = false;
    throw;
  }
}

void readiness_monitor::check_not_pooled() {
  if (pooling_checked_) {
    return;
  }
  if (sessions_are_shared(settings_)) {
    session_->reset();
    throw std::runtime_error(
        "two connections were served by one database session: SHOPMIRROR_DATABASE_URL leads "
        "through a pooler in transaction mode (PgBouncer pool_mode=transaction), which hands "
        "shopmirror's session state (the reconcile lock, timeouts, prepared statements) from "
        "client to client; use session mode, or connect to PostgreSQL directly");
  }
  pooling_checked_ = true;
}

void readiness_monitor::publish(const readiness& next) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = next.ready != state_.ready;
    state_ = next;
  }
  if (changed) {
    telemetry::log_event(next.ready ? telemetry::level::info : telemetry::level::warn,
                         next.ready ? "db_ready" : "db_not_ready")
        .field("schema_version", next.schema_version)
        .field("reason", next.reason);
  }
}

void readiness_monitor::run() {
  while (!loop_.stopping()) {
    const readiness now = check_now();
    // Look again sooner while not ready, so recovery shows quickly.
    if (loop_.wait_for(now.ready ? interval_ : interval_ / 4)) {
      return;
    }
  }
}

} // namespace shopmirror::db
