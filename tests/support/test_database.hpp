#pragma once

#include "db/settings.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shopmirror::test {

class pg_cluster;

using row = std::vector<std::optional<std::string>>;

/// The server the database tests share: SHOPMIRROR_TEST_PG (a libpq
/// connection string with rights to create databases, set by
/// scripts/test), or else one server started for this process.
std::string shared_server_url();

/// A database of one test's own on the shared server, migrated to the
/// latest schema (unless `migrated` is false) and dropped at the end. With
/// SHOPMIRROR_TEST_PGBOUNCER set, its URL leads through PgBouncer.
class test_database {
public:
  explicit test_database(bool migrated = true);
  /// A database on a server the test controls (a pg_cluster).
  test_database(const pg_cluster& cluster, bool migrated = true);
  /// A database that exists on `cluster` already (a promoted standby's copy
  /// of one): used as it is, and never dropped.
  struct existing {
    std::string name;
  };
  test_database(const pg_cluster& cluster, existing database);
  ~test_database();
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  const std::string& url() const noexcept { return url_; }
  const std::string& name() const noexcept { return name_; }
  db::db_settings settings() const;

  /// Runs SQL and returns every row, each value as text (nullopt for NULL).
  std::vector<row> query(const std::string& sql) const;
  /// The single value of a one-row, one-column query ("" for NULL).
  std::string scalar(const std::string& sql) const;
  void execute(const std::string& sql) const;

private:
  void create(const std::string& admin_url, bool migrated);
  std::string admin_url_;
  std::string name_;
  std::string url_;
  bool owned_ = true;
};

} // namespace shopmirror::test
