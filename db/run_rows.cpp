#include "db/run_rows.hpp"

#include <stdexcept>
#include <string>

namespace shopmirror::db {

namespace {

// The column's check constraint keeps the text within the set; a value
// outside it is a schema newer than this build.
template <typename Enum>
Enum closed_set(const pqxx::field& field, std::optional<Enum> (*parse)(std::string_view) noexcept) {
  if (const auto value = parse(field.c_str())) {
    return *value;
  }
  throw std::runtime_error(std::string("reconcile_runs.") + field.name() + " holds \"" +
                           field.c_str() + "\", which this release does not know");
}

} // namespace

const char* const run_columns =
    "id, shop_domain, trigger, mode, "
    "to_char(since at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), dry_run, "
    "to_char(started_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "status, error, listed, inserted, updated, unchanged, tombstoned, revived, failed, "
    "max_sweep, held_sweep, "
    "to_char(sweep_confirmed_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

std::optional<model::timestamp> optional_time(const pqxx::field& field) {
  if (field.is_null()) {
    return std::nullopt;
  }
  return model::parse_rfc3339(field.c_str());
}

run_record read_run(const pqxx::row& row) {
  run_record r;
  r.id = row[0].as<std::int64_t>();
  r.shop = row[1].c_str();
  r.trigger = closed_set(row[2], parse_run_trigger);
  r.mode = closed_set(row[3], parse_run_mode);
  r.since = optional_time(row[4]);
  r.dry_run = row[5].as<bool>();
  r.started_at = optional_time(row[6]).value_or(model::timestamp{});
  r.finished_at = optional_time(row[7]);
  r.status = closed_set(row[8], parse_run_status);
  if (!row[9].is_null()) {
    r.error = row[9].c_str();
  }
  r.listed = row[10].as<std::int64_t>();
  r.inserted = row[11].as<std::int64_t>();
  r.updated = row[12].as<std::int64_t>();
  r.unchanged = row[13].as<std::int64_t>();
  r.tombstoned = row[14].as<std::int64_t>();
  r.revived = row[15].as<std::int64_t>();
  r.failed = row[16].as<std::int64_t>();
  r.max_sweep = row[17].as<double>();
  if (!row[18].is_null()) {
    r.held_sweep = row[18].as<std::int64_t>();
  }
  r.sweep_confirmed_at = optional_time(row[19]);
  return r;
}

} // namespace shopmirror::db
