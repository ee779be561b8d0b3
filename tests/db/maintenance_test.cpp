#include "db/errors.hpp"
#include "db/maintenance.hpp"
#include "db/pg_session.hpp"
#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <chrono>

using namespace shopmirror;

namespace {

// A row lock held by another session for as long as the object lives: a
// connection without a lock timeout would wait on it until the test's
// timeout fails it.
class row_lock {
public:
  row_lock(const test::test_database& db, const std::string& select_for_update)
      : connection_(db.url()), tx_(connection_) {
    tx_.exec(select_for_update);
  }

private:
  pqxx::connection connection_;
  pqxx::work tx_;
};

db::db_settings quick(const test::test_database& db) {
  db::db_settings settings = db.settings();
  settings.lock_timeout = std::chrono::milliseconds(100);
  return settings;
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("a connection's session limits are the ones asked for") {
    test::test_database db;
    pqxx::connection connection(db.url());
    db::limit_session(connection,
                      {std::chrono::milliseconds(1234), std::chrono::milliseconds(567)});
    pqxx::nontransaction tx(connection);
    CHECK(tx.exec1("show statement_timeout")[0].as<std::string>() == "1234ms");
    CHECK(tx.exec1("show lock_timeout")[0].as<std::string>() == "567ms");
    CHECK(tx.exec1("show idle_in_transaction_session_timeout")[0].as<std::string>() == "6170ms");
    CHECK(tx.exec1("show timezone")[0].as<std::string>() == "UTC");
  }

  TEST_CASE("a prune held up by a locked delivery gives up instead of waiting") {
    test::test_database db;
    db.execute(
        "insert into shopify.webhook_deliveries "
        "(shop_domain, webhook_id, topic, received_at, outcome) values "
        "('a.myshopify.com', 'old', 'products/update', now() - interval '30 days', 'applied')");
    const row_lock held(db, "select 1 from shopify.webhook_deliveries for update");
    CHECK_THROWS_AS(db::prune_deliveries(quick(db), std::chrono::hours(24)), db::database_error);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "1");
  }

  TEST_CASE("recording a replay held up by a locked dead letter gives up instead of waiting") {
    test::test_database db;
    const std::string id =
        db.scalar("insert into shopify.dead_letters "
                  "(shop_domain, webhook_id, topic, received_at, reason, headers, body) values "
                  "('a.myshopify.com', 'w', 'products/update', now(), 'malformed', '{}', '\\x7b')"
                  " returning id");
    const row_lock held(db, "select 1 from shopify.dead_letters for update");
    CHECK_THROWS_AS(db::mark_replayed(quick(db), std::stoll(id), "applied"), db::database_error);
    CHECK(db.scalar("select count(*) from shopify.dead_letters where replayed_at is null") == "1");
  }

} // TEST_SUITE
