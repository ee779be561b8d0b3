// The maintenance commands: one-shot work against the database.

#include "db/migrate.hpp"
#include "ingest/commands.hpp"
#include "telemetry/log.hpp"

namespace shopmirror::ingest {

using telemetry::level;
using telemetry::log_event;

int run_migrate(const config& settings) {
  settings.require_database();
  const db::migrate_result result = db::migrate(settings.database);
  log_event(level::info, "migrated")
      .field("from_version", result.from_version)
      .field("to_version", result.to_version);
  return 0;
}

} // namespace shopmirror::ingest
