#pragma once

// Internal to db/: a shopify.reconcile_runs row as read by every store that
// shows runs.

#include "db/reconcile_store.hpp"

#include <pqxx/pqxx>

namespace shopmirror::db {

/// The select list that read_run expects, in its order.
extern const char* const run_columns;

/// A timestamptz selected as RFC 3339 text (to_char ... 'UTC'), or nothing.
std::optional<model::timestamp> optional_time(const pqxx::field& field);

/// A row selected with run_columns.
run_record read_run(const pqxx::row& row);

} // namespace shopmirror::db
