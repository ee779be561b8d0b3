// The service and a PostgreSQL of the test's own, stopped and started under
// it: 503s during the outage, fast; 200s again afterwards, same process.

#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace shopmirror;

namespace {

const std::string secret = "outage-secret";

test::signed_delivery delivery(int n) {
  test::signed_delivery d;
  d.webhook_id = "outage-" + std::to_string(n);
  d.secret = secret;
  d.body = test::product_json({n, "P" + std::to_string(n), "2026-01-01T00:00:00Z", "", "active", {}});
  return d;
}

} // namespace

TEST_SUITE("e2e") {

TEST_CASE("PostgreSQL stopped mid-run: fast 503s - then 200s again without a restart") {
  test::pg_cluster cluster;
  test::test_database db(cluster);
  test::service_process service(db.url(), {secret});
  auto client = test::local_client(service.port());

  CHECK(test::post_webhook(client, delivery(1)).status == 200);

  cluster.stop_immediate();
  for (int n = 2; n < 6; ++n) {
    const auto started = std::chrono::steady_clock::now();
    const auto r = test::post_webhook(client, delivery(n));
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(r.status == 503);
    CHECK(r.header("Retry-After") == "1");
    CHECK(took < std::chrono::seconds(4)); // well inside Shopify's 5 s
  }
  // Readiness notices too.
  bool reported_not_ready = false;
  for (int i = 0; i < 50 && !reported_not_ready; ++i) {
    reported_not_ready = client.request("GET", "/readyz", {}).status == 503;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(reported_not_ready);

  cluster.start();
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    status = test::post_webhook(client, delivery(2)).status; // Shopify's retry
    if (status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  CHECK(status == 200);
  CHECK(service.process().running());
  CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "2");
  CHECK(db.scalar("select string_agg(webhook_id, ',' order by webhook_id) from "
                  "shopify.webhook_deliveries") == "outage-1,outage-2");
}

TEST_CASE("started before its database: not ready and 503 then ready when it appears") {
  test::pg_cluster cluster;
  test::test_database db(cluster, false); // the service migrates it
  cluster.stop_fast();
  test::service_process service(db.url(), {secret});
  auto client = test::local_client(service.port());
  CHECK(client.request("GET", "/readyz", {}).status == 503);
  CHECK(test::post_webhook(client, delivery(1)).status == 503);

  cluster.start();
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    ready = client.request("GET", "/readyz", {}).status == 200;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(ready);
  CHECK(test::post_webhook(client, delivery(1)).status == 200);
  CHECK(db.scalar("select count(*) from shopify.products") == "1");
}

}
