#include "db/migrate.hpp"
#include "db/migrations.hpp"
#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace shopmirror;

TEST_SUITE("db") {

  TEST_CASE("migrations are versioned and ordered and a second run does nothing") {
    const auto all = db::migrations();
    REQUIRE(!all.empty());
    for (std::size_t i = 1; i < all.size(); ++i) {
      CHECK(all[i].version > all[i - 1].version);
    }
    test::test_database database(false);
    CHECK(db::schema_version(database.settings()) == 0);
    const auto first = db::migrate(database.settings());
    CHECK(first.from_version == 0);
    CHECK(first.to_version == db::latest_schema_version());
    const auto second = db::migrate(database.settings());
    CHECK(second.from_version == db::latest_schema_version());
    CHECK(second.to_version == db::latest_schema_version());
    CHECK(database.scalar("select count(*) from shopify.schema_migrations") ==
          std::to_string(all.size()));
  }

  TEST_CASE("replicas that start together migrate once") {
    test::test_database database(false);
    constexpr int replicas = 6;
    std::atomic<int> failures{0};
    std::atomic<int> applied_steps{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < replicas; ++i) {
      threads.emplace_back([&] {
        try {
          const auto result = db::migrate(database.settings());
          applied_steps += result.to_version - result.from_version;
        } catch (const std::exception&) {
          ++failures;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    CHECK(failures == 0);
    CHECK(applied_steps == db::latest_schema_version()); // each step applied by exactly one
    CHECK(database.scalar("select count(*) from shopify.schema_migrations") ==
          std::to_string(db::migrations().size()));
  }

  TEST_CASE("an unreachable database is a clear error") {
    db::db_settings settings;
    settings.url = "host=/nonexistent-socket-dir port=1 user=nobody dbname=none";
    CHECK_THROWS_WITH_AS(db::migrate(settings), doctest::Contains("migration failed"),
                         std::runtime_error);
  }
}
