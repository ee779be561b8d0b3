#include "db/migrate.hpp"

#include "db/errors.hpp"
#include "db/migrations.hpp"
#include "db/pg_session.hpp"
#include "telemetry/log.hpp"

#include <pqxx/pqxx>

namespace shopmirror::db {
namespace {

// One key for every shopmirror process sharing the database.
constexpr const char* lock_sql = "select pg_advisory_lock(hashtext('shopmirror.migrate'))";
constexpr const char* unlock_sql = "select pg_advisory_unlock(hashtext('shopmirror.migrate'))";

// A migration may rewrite a table or build an index over the whole mirror,
// and the advisory lock above waits while another replica migrates: an hour
// per statement, not a request's seconds. No lock timeout: it would end that
// wait for the other replica (a lock timeout covers advisory locks too).
constexpr session_limits migration_limits{std::chrono::hours(1), std::chrono::milliseconds(0)};

} // namespace

int read_schema_version(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  // Planned apart: a query naming a table that does not exist fails to plan.
  if (tx.exec1("select to_regclass('shopify.schema_migrations') is null")[0].as<bool>()) {
    return 0;
  }
  return tx.exec1("select coalesce(max(version), 0) from shopify.schema_migrations")[0].as<int>();
}

migrate_result migrate(const db_settings& settings) {
  try {
    pqxx::connection connection(connection_string(settings));
    limit_session(connection, migration_limits);
    {
      pqxx::nontransaction tx(connection);
      tx.exec(lock_sql);
    }
    migrate_result result;
    result.from_version = read_schema_version(connection);
    result.to_version = result.from_version;
    if (result.from_version == 0) {
      pqxx::work tx(connection);
      // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs the
      // right to create in the database even when the schema is there, and
      // an operator may have made it for a role that has no such right.
      if (tx.exec1("select to_regnamespace('shopify') is null")[0].as<bool>()) {
        tx.exec("create schema shopify");
      }
      tx.exec("create table if not exists shopify.schema_migrations ("
              "version integer primary key, name text not null, "
              "applied_at timestamptz not null default now())");
      tx.commit();
    }
    for (const migration& step : migrations()) {
      if (step.version <= result.to_version) {
        continue;
      }
      pqxx::work tx(connection);
      tx.exec(std::string(step.sql));
      tx.exec_params("insert into shopify.schema_migrations (version, name) values ($1, $2)",
                     step.version, std::string(step.name));
      tx.commit();
      result.to_version = step.version;
      telemetry::log_event(telemetry::level::info, "migration_applied")
          .field("version", step.version)
          .field("name", step.name);
    }
    {
      pqxx::nontransaction tx(connection);
      tx.exec(unlock_sql);
    }
    return result;
  } catch (...) {
    rethrow_as_database_error("migration failed");
  }
}

int schema_version(const db_settings& settings) {
  try {
    pqxx::connection connection(connection_string(settings));
    limit_session(connection, limits_of(settings));
    return read_schema_version(connection);
  } catch (...) {
    rethrow_as_database_error("cannot read the schema version");
  }
}

} // namespace shopmirror::db
