// A primary and a streaming standby: multi-host connection strings for the
// service and every command, a standby that is named alone, and consumers
// reading the mirror from the standby.

#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace shopmirror;
using namespace std::chrono_literals;

namespace {

/// `dbname` on the standby first and the primary second: libpq skips the
/// standby when the string asks for a read-write session.
std::string standby_first(const test::pg_cluster& standby, const test::pg_cluster& primary,
                          const std::string& dbname, bool read_write = true) {
  return "host=" + standby.directory() + "," + primary.directory() +
         " port=" + std::to_string(standby.port()) + "," + std::to_string(primary.port()) +
         " user=postgres dbname=" + dbname + (read_write ? " target_session_attrs=read-write" : "");
}

/// Waits until the standby has replayed the database's creation: libpq
/// tries the next host when one is down or read-only, but not when a
/// server refuses the database.
void wait_for_database(const test::pg_cluster& standby, const std::string& dbname) {
  const test::test_database postgres(standby, test::test_database::existing{"postgres"});
  for (int i = 0; i < 200; ++i) {
    if (postgres.scalar("select count(*) from pg_database where datname = '" + dbname + "'") ==
        "1") {
      return;
    }
    std::this_thread::sleep_for(25ms);
  }
  FAIL("the standby never replayed the creation of " << dbname);
}

int run(const std::vector<std::string>& args, const test::environment& env) {
  std::vector<std::string> argv = {test::shopmirror_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  test::child_process process(argv, env);
  const auto status = process.wait(60s);
  REQUIRE_MESSAGE(status.has_value(), process.output());
  if (*status != 0) {
    MESSAGE(process.output());
  }
  return *status;
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("a multi-host string that names a standby first: the service and every command reach "
            "the primary") {
    test::pg_cluster primary;
    test::pg_cluster standby(primary, "standby");
    const test::test_database db(primary, false); // migrated below, through the string
    wait_for_database(standby, db.name());
    const std::string url = standby_first(standby, primary, db.name());
    const test::environment env = {{"SHOPMIRROR_DATABASE_URL", url}};

    CHECK(run({"migrate"}, env) == 0);
    CHECK(db.scalar("select count(*) > 0 from shopify.schema_migrations") == "t");

    test::admin_api_stand_in shopify;
    const auto listed = test::spec(7, "2026-11-01T00:00:00Z", "listed", 2);
    const auto delivered = test::spec(8, "2026-11-02T00:00:00Z", "delivered", 1);
    shopify.put_product(test::state_of(listed));
    shopify.put_product(test::state_of(delivered));
    test::service_process service(url, {test::reconcile_secret},
                                  {{"SHOPMIRROR_MIGRATE_ON_START", "false"}});
    test::send(service.port(), "products/create", test::product_json(delivered), "mh-8");
    auto client = test::local_client(service.port());
    CHECK(client.request("GET", "/readyz", {}).status == 200);

    const auto reconcile = test::reconcile_command(shopify, db, {}, "bulk", env);
    CHECK(reconcile.status == 0);
    CHECK(test::field(test::run_line(reconcile.output), "status") == "succeeded");
    CHECK(test::mirror_row(db, 7) == test::expected_row(listed));
    CHECK(run({"prune"}, env) == 0);
    CHECK(run({"dead-letters", "list"}, env) == 0);

    // Consumers read from the standby: what they see lags by the replication
    // delay, and then is the primary's.
    const test::test_database replica(standby, test::test_database::existing{db.name()});
    const std::string query =
        "select string_agg(product_id::text || ':' || title, ',' order by product_id) "
        "from shopify.live_products";
    const std::string expected = db.scalar(query);
    CHECK(expected == "7:listed,8:delivered");
    std::string seen;
    for (int i = 0; i < 100 && seen != expected; ++i) {
      std::this_thread::sleep_for(50ms);
      seen = replica.scalar(query);
    }
    CHECK(seen == expected);
  }

  TEST_CASE("a string that reaches only a standby: 503 and not ready, never anything else") {
    test::pg_cluster primary;
    test::pg_cluster standby(primary, "standby");
    const test::test_database db(primary);
    wait_for_database(standby, db.name());
    const std::string only_standby = "host=" + standby.directory() +
                                     " port=" + std::to_string(standby.port()) +
                                     " user=postgres dbname=" + db.name();
    // Asked for a read-write session, libpq refuses the standby; asked for
    // nothing, it connects and every write is refused as read-only.
    for (const std::string& url :
         {only_standby + " target_session_attrs=read-write", only_standby}) {
      CAPTURE(url);
      test::service_process service(url, {test::reconcile_secret},
                                    {{"SHOPMIRROR_MIGRATE_ON_START", "false"}});
      auto client = test::local_client(service.port());
      test::signed_delivery d;
      d.webhook_id = "standby-only";
      d.secret = test::reconcile_secret;
      d.body = test::product_json(test::spec(9, "2026-11-03T00:00:00Z", "refused", 1));
      for (int i = 0; i < 3; ++i) {
        CHECK(test::post_webhook(client, d).status == 503);
      }
      const auto ready = client.request("GET", "/readyz", {});
      CHECK(ready.status == 503);
      CHECK(test::field(ready.body, "ready") == "false");
    }
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
  }
}
