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
  /// TCP keepalives (libpq's keepalives_*): a connection that a network
  /// device dropped without a word is noticed after idle + interval x
  /// count, instead of the kernel's two hours. Unix sockets ignore them.
  std::chrono::seconds keepalive_idle{5};
  std::chrono::seconds keepalive_interval{2};
  int keepalive_count = 3;
  /// How long sent data may stay unacknowledged before the connection is
  /// given up (libpq's tcp_user_timeout); 0 leaves the kernel's default.
  std::chrono::milliseconds tcp_user_timeout{10000};
};

/// Why libpq would refuse this connection string, or nothing if it parses.
std::optional<std::string> validate_url(const std::string& url);

/// The connection string with shopmirror's defaults (connect timeout,
/// application name, keepalives) added where the URL does not set them
/// itself. Multi-host strings pass through as they are.
std::string connection_string(const db_settings& settings);

} // namespace shopmirror::db
