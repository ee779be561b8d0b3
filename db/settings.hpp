#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace shopmirror::db {

/// How shopmirror reaches PostgreSQL.
struct db_settings {
  /// A libpq connection string or URI (SHOPMIRROR_DATABASE_URL).
  std::string url;
  std::chrono::milliseconds connect_timeout{2000};
  /// Bounds every statement, so a slow database turns into a fast 503.
  std::chrono::milliseconds statement_timeout{2000};
  /// Bounds waiting for a row lock held by another session.
  std::chrono::milliseconds lock_timeout{500};
  std::string application_name = "shopmirror";
};

/// Why libpq would refuse this connection string, or nothing if it parses.
std::optional<std::string> validate_url(const std::string& url);

/// The connection string with shopmirror's defaults (connect timeout,
/// application name) added where the URL does not set them itself.
std::string connection_string(const db_settings& settings);

} // namespace shopmirror::db
