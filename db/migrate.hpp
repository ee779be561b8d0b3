#pragma once

#include "db/settings.hpp"

namespace shopmirror::db {

struct migrate_result {
  int from_version = 0;
  int to_version = 0;
};

/// Brings the schema to latest_schema_version(), applying each pending
/// migration in its own transaction. Holds a PostgreSQL advisory lock for
/// the whole run, so replicas that start together apply each step once.
/// A database newer than this binary is left alone. Throws db::database_error
/// (db/errors.hpp) with the reason, the SQLSTATE and whether a retry may
/// help, when the database cannot be reached or a step fails.
migrate_result migrate(const db_settings& settings);

/// The schema version the database holds (0 if none). Throws like migrate().
int schema_version(const db_settings& settings);

} // namespace shopmirror::db
