#pragma once

#include <span>
#include <string_view>

namespace shopmirror::db {

/// One forward-only step of the schema, from db/migrations/NNNN_name.sql.
struct migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

/// Every migration, in version order.
std::span<const migration> migrations();

/// The schema version this binary was built for.
int latest_schema_version();

} // namespace shopmirror::db
