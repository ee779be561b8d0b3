// The service and a PostgreSQL of the test's own, stopped and started under
// it: 503s during the outage, fast; 200s again afterwards, same process. And
// a database that refuses for good, told apart from one that is away.

#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/reconcile_runs.hpp"
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
  d.body =
      test::product_json({n, "P" + std::to_string(n), "2026-01-01T00:00:00Z", "", "active", {}});
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

  TEST_CASE(
      "the reconcile API and the commands tell a database that is away from one that refuses") {
    test::pg_cluster cluster;
    test::test_database db(cluster);
    test::admin_api_stand_in shopify;
    test::environment env = test::admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", test::reconcile_bearer);
    test::service_process service(db.url(), {secret}, env);
    auto client = test::local_client(service.port());
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Bearer " + test::reconcile_bearer}};
    const auto command = [&](const std::string& name) {
      test::child_process process({test::shopmirror_binary(), name},
                                  {{"SHOPMIRROR_DATABASE_URL", db.url()}});
      const auto status = process.wait(std::chrono::seconds(60));
      REQUIRE(status);
      return std::make_pair(*status, process.output());
    };
    REQUIRE(client.request("GET", "/reconcile/runs", auth).status == 200);

    // A schema the binary does not expect: every retry would fail alike.
    db.execute("alter table shopify.reconcile_runs rename column status to run_status");
    db.execute("alter table shopify.webhook_deliveries rename column received_at to arrived_at");
    const auto listed = client.request("GET", "/reconcile/runs", auth);
    CHECK(listed.status == 500);
    CHECK(listed.header("Retry-After").empty());
    const auto triggered = client.request("POST", "/reconcile?shop=" + test::reconcile_shop, auth);
    CHECK(triggered.status == 500);
    CHECK(triggered.header("Retry-After").empty());
    const auto [refused, refused_log] = command("prune");
    CHECK(refused == 1);
    CHECK(refused_log.find("\"database_failed\"") != std::string::npos);
    CHECK(refused_log.find("42703") != std::string::npos);

    db.execute("alter table shopify.reconcile_runs rename column run_status to status");
    db.execute("alter table shopify.webhook_deliveries rename column arrived_at to received_at");
    cluster.stop_immediate();
    const auto away = client.request("GET", "/reconcile/runs", auth);
    CHECK(away.status == 503);
    CHECK(away.header("Retry-After") == "5");
    CHECK(client.request("GET", "/reconcile/runs/1", auth).status == 503);
    const auto deferred = client.request("POST", "/reconcile?shop=" + test::reconcile_shop, auth);
    CHECK(deferred.status == 503);
    CHECK(deferred.header("Retry-After") == "5");
    const auto [unavailable, unavailable_log] = command("prune");
    CHECK(unavailable == 1);
    CHECK(unavailable_log.find("\"database_unavailable\"") != std::string::npos);

    // Each read opens a connection of its own: back as soon as the database is.
    cluster.start();
    CHECK(client.request("GET", "/reconcile/runs", auth).status == 200);
  }
}
