#include "tests/support/test_database.hpp"

#include "db/migrate.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/pgbouncer_process.hpp"

#include <pqxx/pqxx>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>

namespace shopmirror::test {
namespace {

std::string replace_dbname(const std::string& url, const std::string& name) {
  // Connection strings here are key=value; a later dbname= wins.
  return url + " dbname=" + name;
}

} // namespace

std::string shared_server_url() {
  if (const char* url = std::getenv("SHOPMIRROR_TEST_PG"); url != nullptr && *url != '\0') {
    return url;
  }
  static std::once_flag once;
  static std::unique_ptr<pg_cluster> own;
  std::call_once(once, [] { own = std::make_unique<pg_cluster>(); });
  return own->url();
}

test_database::test_database(bool migrated) {
  create(shared_server_url(), migrated);
}

test_database::test_database(const pg_cluster& cluster, bool migrated) {
  create(cluster.url(), migrated);
}

test_database::test_database(const pg_cluster& cluster, existing database)
    : admin_url_(cluster.url()), name_(std::move(database.name)),
      url_(replace_dbname(admin_url_, name_)), owned_(false) {}

void test_database::create(const std::string& admin_url, bool migrated) {
  static std::atomic<unsigned> counter{0};
  std::random_device random;
  admin_url_ = admin_url;
  name_ = "shopmirror_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(random() % 100000);
  {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("create database " + name_);
  }
  url_ = replace_dbname(admin_url_, name_);
  if (const pgbouncer_process* bouncer = shared_pgbouncer();
      bouncer != nullptr && admin_url == shared_server_url()) {
    // Everything but creating and dropping goes through PgBouncer: the
    // service, the commands, the migrations and the test's own queries.
    url_ = bouncer->url(name_);
  }
  if (!migrated) {
    return;
  }
  if (const char* other = std::getenv("SHOPMIRROR_TEST_BINARY");
      other != nullptr && *other != '\0') {
    // Tests run against another build (child_process.hpp): its schema, by
    // its own migrations, not this build's.
    child_process migrate({other, "migrate"}, {{"SHOPMIRROR_DATABASE_URL", url_}});
    const auto status = migrate.wait(std::chrono::seconds(60));
    if (!status || *status != 0) {
      throw std::runtime_error("the binary under test did not migrate:\n" + migrate.output());
    }
    return;
  }
  db::migrate(settings());
}

test_database::~test_database() {
  if (!owned_) {
    return;
  }
  try {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("drop database if exists " + name_ + " with (force)");
  } catch (...) {
    // The server may be gone (a test stopped it): nothing left to drop.
  }
}

db::db_settings test_database::settings() const {
  db::db_settings s;
  s.url = url_;
  return s;
}

std::vector<row> test_database::query(const std::string& sql) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  const pqxx::result result = tx.exec(sql);
  std::vector<row> rows;
  for (const auto& r : result) {
    row values;
    for (const auto& field : r) {
      if (field.is_null()) {
        values.emplace_back(std::nullopt);
      } else {
        values.emplace_back(field.c_str());
      }
    }
    rows.push_back(std::move(values));
  }
  return rows;
}

std::string test_database::scalar(const std::string& sql) const {
  const auto rows = query(sql);
  if (rows.size() != 1 || rows[0].size() != 1) {
    throw std::runtime_error("expected one value from: " + sql);
  }
  return rows[0][0].value_or("");
}

void test_database::execute(const std::string& sql) const {
  pqxx::connection connection(url_);
  pqxx::nontransaction tx(connection);
  tx.exec(sql);
}

} // namespace shopmirror::test
