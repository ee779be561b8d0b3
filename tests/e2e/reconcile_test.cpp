// Reconcile end to end: the real binary against a real PostgreSQL and the
// Admin API stand-in over loopback HTTP.

#include "model/webhook_payload.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <cmath>
#include <cstdio>
#include <future>
#include <thread>

#include <unistd.h>

using namespace shopmirror;
using namespace std::chrono_literals;

namespace {

using test::admin_env;
using test::command_result;
using test::expected_row;
using test::field;
using test::mirror_row;
using test::reconcile_command;
using test::run_line;
using test::run_through_endpoint;
using test::send;
using test::spec;
using test::state_of;

const std::string& shop = test::reconcile_shop;
const std::string& secret = test::reconcile_secret;
const std::string& bearer = test::reconcile_bearer;

/// A mirror that missed things: 1 is outdated, 2 and 3 are current, 9 was
/// deleted in Shopify; 4 and 5 never arrived.
struct drifted_shop {
  std::vector<test::product_spec> catalog = {
      spec(1, "2026-03-01T00:00:00Z", "one, renamed"), spec(2, "2026-01-01T00:00:00Z", "two"),
      spec(3, "2026-01-01T00:00:00Z", "three", 0), spec(4, "2026-02-01T00:00:00Z", "four", 3),
      spec(5, "2026-02-01T00:00:00Z", "five")};
  test::product_spec gone = spec(9, "2026-01-01T00:00:00Z", "nine");

  drifted_shop(test::admin_api_stand_in& shopify, const test::test_database& db) {
    for (const auto& p : catalog) {
      shopify.put_product(state_of(p));
    }
    test::service_process service(db.url(), {secret});
    send(service.port(), "products/create",
         test::product_json(spec(1, "2026-01-01T00:00:00Z", "one")), "w1");
    send(service.port(), "products/create", test::product_json(catalog[1]), "w2");
    send(service.port(), "products/create", test::product_json(catalog[2]), "w3");
    send(service.port(), "products/create", test::product_json(gone), "w9");
  }

  void check_repaired(const test::test_database& db) const {
    for (const auto& p : catalog) {
      CHECK(mirror_row(db, p.id) == expected_row(p));
    }
    CHECK(mirror_row(db, 9) == expected_row(gone, true));
  }
};

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("a mirror that missed creates updates and deletes is repaired exactly") {
    for (const std::string mode : {"bulk", "paginated"}) {
      CAPTURE(mode);
      test::test_database db;
      test::admin_api_stand_in shopify;
      drifted_shop drifted(shopify, db);

      // Two products a page: the walk takes several.
      const auto result =
          reconcile_command(shopify, db, {}, mode, {{"SHOPMIRROR_RECONCILE_PAGE_SIZE", "2"}});
      CHECK(result.status == 0);
      const std::string run = run_line(result.output);
      CHECK(field(run, "status") == "succeeded");
      CHECK(field(run, "mode") == mode);
      CHECK(field(run, "listed") == "5");
      CHECK(field(run, "inserted") == "2");
      CHECK(field(run, "updated") == "1");
      CHECK(field(run, "unchanged") == "2");
      CHECK(field(run, "tombstoned") == "1");
      drifted.check_repaired(db);
      if (mode == "bulk") {
        CHECK(shopify.counters().bulk_started == 1);
        CHECK(shopify.counters().of("bulk_download") == 1);
      } else {
        CHECK(shopify.counters().bulk_started == 0);
        CHECK(shopify.counters().of("ProductsPage") >= 2);
      }
      CHECK(shopify.counters().api_versions == std::vector<std::string>{"2026-10"});

      // Run again: nothing left to repair.
      const auto again = run_line(reconcile_command(shopify, db, {}, mode).output);
      CHECK(field(again, "inserted") == "0");
      CHECK(field(again, "updated") == "0");
      CHECK(field(again, "unchanged") == "5");
      CHECK(field(again, "tombstoned") == "0");
    }
  }

  TEST_CASE("a product with more variants than a page holds is listed whole") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    const auto big = spec(77, "2026-04-01T00:00:00Z", "many variants", 260);
    shopify.put_product(state_of(big));
    const auto result = reconcile_command(shopify, db, {}, "paginated");
    CHECK(result.status == 0);
    CHECK(db.scalar("select count(*) from shopify.product_variants where product_id = 77") ==
          "260");
    CHECK(shopify.counters().of("ProductVariantsPage") == 1); // 100 first, then 160 in one page
    CHECK(mirror_row(db, 77) == expected_row(big));
  }

  TEST_CASE("a run that fails half-way tombstones nothing") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);

    SUBCASE("the bulk operation fails") {
      shopify.fail_next_bulk_operation(0.5);
      const auto result = reconcile_command(shopify, db);
      CHECK(result.status == 1);
      const std::string run = run_line(result.output);
      CHECK(field(run, "status") == "failed");
      CHECK(field(run, "error").find("FAILED") != std::string::npos);
    }
    SUBCASE("the Admin API keeps failing after the first pages") {
      int pages = 0;
      shopify.on_request([&](std::string_view operation) {
        if (operation == "ProductsPage" && ++pages == 3) {
          shopify.fail_next_with_status(100, 502);
        }
      });
      const auto result = reconcile_command(shopify, db, {}, "paginated",
                                            {{"SHOPMIRROR_RECONCILE_PAGE_SIZE", "1"}});
      CHECK(result.status == 1);
      const std::string run = run_line(result.output);
      CHECK(field(run, "status") == "failed");
      CHECK(field(run, "error").find("HTTP 502") != std::string::npos);
      CHECK(shopify.counters().injected_5xx == 6); // every attempt, then the run gave up
    }
    CHECK(mirror_row(db, 9) == expected_row(drifted.gone, false));
    CHECK(db.scalar("select count(*) from shopify.products where deleted_at is not null") == "0");
    CHECK(db.scalar("select count(*) from shopify.reconcile_seen") == "0");
  }

  TEST_CASE("throttling 429s 5xx and dropped connections are waited out and retried") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    // The first request (which shop the token is for) is throttled: the
    // client learns the bucket. After the first page, a burst of trouble.
    int pages = 0;
    shopify.on_request([&](std::string_view operation) {
      if (operation == "ShopIdentity" && shopify.counters().of("ShopIdentity") == 1) {
        shopify.drain_bucket();
      }
      if (operation == "ProductsPage" && ++pages == 2) {
        shopify.fail_next_with_429(1, 1);
        shopify.fail_next_with_status(2, 503);
        shopify.drop_next(1);
      }
    });
    const auto result =
        reconcile_command(shopify, db, {}, "paginated", {{"SHOPMIRROR_RECONCILE_PAGE_SIZE", "2"}});
    CHECK(result.status == 0);
    CHECK(field(run_line(result.output), "status") == "succeeded");
    const auto counters = shopify.counters();
    CHECK(counters.throttled >= 1);
    CHECK(counters.injected_429 == 1);
    CHECK(counters.injected_5xx == 2);
    CHECK(counters.injected_drops == 1);
    drifted.check_repaired(db);
  }

  TEST_CASE("the client never exceeds the cost bucket") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    shopify.set_bucket(400, 100);
    for (int id = 1; id <= 20; ++id) {
      shopify.put_product(state_of(spec(id, "2026-02-01T00:00:00Z", "p", 30)));
    }
    const auto result = reconcile_command(shopify, db, {}, "paginated");
    CHECK(result.status == 0);
    CHECK(field(run_line(result.output), "inserted") == "20");
    CHECK(shopify.counters().throttled == 0);
    CHECK(shopify.counters().max_cost_exceeded == 0);
    CHECK(shopify.counters().of("ProductsPage") >= 6); // pages sized to fit the bucket
  }

  TEST_CASE("a dry run reports the drift and writes nothing") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    const std::string before =
        db.scalar("select string_agg(product_id || title || coalesce(deleted_at::text, '-') || "
                  "updated_at || applied_at, ',' order by product_id) from shopify.products");
    const auto result = reconcile_command(shopify, db, {"--dry-run"});
    CHECK(result.status == 0);
    const std::string run = run_line(result.output);
    CHECK(field(run, "dry_run") == "true");
    CHECK(field(run, "inserted") == "2");
    CHECK(field(run, "updated") == "1");
    CHECK(field(run, "tombstoned") == "1");
    CHECK(db.scalar("select string_agg(product_id || title || coalesce(deleted_at::text, '-') || "
                    "updated_at || applied_at, ',' order by product_id) from shopify.products") ==
          before);
    CHECK(db.scalar("select count(*) from shopify.product_variants") == "6");
  }

  TEST_CASE("since lists only recent changes and sweeps nothing") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    const auto result = reconcile_command(shopify, db, {"--since", "2026-02-15T00:00:00Z"});
    CHECK(result.status == 0);
    const std::string run = run_line(result.output);
    CHECK(field(run, "mode") == "since");
    CHECK(field(run, "listed") == "1"); // only product 1 changed since then
    CHECK(field(run, "updated") == "1");
    CHECK(field(run, "tombstoned") == "0");
    CHECK(mirror_row(db, 1) == expected_row(drifted.catalog[0]));
    CHECK(mirror_row(db, 4) == "absent");
    CHECK(mirror_row(db, 9) == expected_row(drifted.gone, false));
    CHECK(reconcile_command(shopify, db, {"--since", "yesterday"}).status == 2);
  }

  TEST_CASE("webhooks during a run are neither overwritten nor swept") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    test::environment env = admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", bearer);
    test::service_process service(db.url(), {secret}, env);
    // While the listing is being made: product 2 changes and product 20 is
    // created, both seen by webhook only (the listing keeps the older 2).
    const auto newer_two = spec(2, "2026-06-01T00:00:00Z", "two, changed during the run");
    const auto twenty = spec(20, "2026-06-01T00:00:00Z", "twenty, created during the run");
    bool sent = false;
    shopify.on_request([&](std::string_view operation) {
      if (!sent && operation == "BulkOperationById") {
        sent = true;
        send(service.port(), "products/update", test::product_json(newer_two), "during-2");
        send(service.port(), "products/create", test::product_json(twenty), "during-20");
      }
    });
    auto client = test::local_client(service.port());
    const std::string run = run_through_endpoint(client, "/reconcile");
    CHECK(field(run, "status") == "succeeded");
    CHECK(field(run, "tombstoned") == "1"); // 9 only
    CHECK(mirror_row(db, 2) == expected_row(newer_two));
    CHECK(mirror_row(db, 20) == expected_row(twenty));
    CHECK(mirror_row(db, 9) == expected_row(drifted.gone, true));
  }

  TEST_CASE("Shopify's catalog changing under a paginated run: what it shows is what ends") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    test::environment env = admin_env(shopify, db, "paginated");
    env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", bearer);
    // Pages of two: [1 2], then, with 3 and 5 gone and 6 created, [4 6].
    env.emplace_back("SHOPMIRROR_RECONCILE_PAGE_SIZE", "2");
    test::service_process service(db.url(), {secret}, env);
    // After the first page, while the run lists on, in Shopify: 2 (already
    // listed) changes, 5 (not listed yet) is deleted and 6 created, each with
    // its webhook; 3 (not listed yet) is deleted and its webhook is lost.
    const auto newer_two = spec(2, "2026-06-01T00:00:00Z", "two, changed during the run");
    const auto six = spec(6, "2026-06-01T00:00:00Z", "six, created during the run");
    int pages = 0;
    shopify.on_request([&](std::string_view operation) {
      if (operation == "ProductsPage" && ++pages == 2) {
        shopify.put_product(state_of(newer_two));
        send(service.port(), "products/update", test::product_json(newer_two), "during-2");
        shopify.remove_product(5);
        send(service.port(), "products/delete", test::delete_json(5), "during-5");
        shopify.put_product(state_of(six));
        send(service.port(), "products/create", test::product_json(six), "during-6");
        shopify.remove_product(3);
      }
    });
    auto client = test::local_client(service.port());
    const std::string run = run_through_endpoint(client, "/reconcile?mode=paginated");
    CHECK(pages == 2);
    CHECK(field(run, "status") == "succeeded");
    CHECK(mirror_row(db, 1) == expected_row(drifted.catalog[0]));       // repaired from page 1
    CHECK(mirror_row(db, 2) == expected_row(newer_two));                // the webhook's newer state
    CHECK(mirror_row(db, 3) == expected_row(drifted.catalog[2], true)); // unseen: swept
    CHECK(mirror_row(db, 4) == expected_row(drifted.catalog[3]));       // inserted
    // Never in the mirror before: its delete webhook left a tombstone.
    CHECK(db.scalar("select deleted_at is not null from shopify.products where product_id = 5") ==
          "t");
    CHECK(mirror_row(db, 6) == expected_row(six)); // created during the run: never swept
    CHECK(mirror_row(db, 9) == expected_row(drifted.gone, true));
    CHECK(field(run, "tombstoned") == "2"); // 3 and 9; 5 was its webhook's
  }

  TEST_CASE("two simultaneous triggers start one run and the endpoint wants its token") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    shopify.put_product(state_of(spec(1, "2026-01-01T00:00:00Z", "one")));
    shopify.set_bulk_running_polls(4); // the run lasts a moment
    test::environment env = admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", bearer);
    test::service_process service(db.url(), {secret}, env);

    auto unauthorized = test::local_client(service.port());
    CHECK(unauthorized.request("POST", "/reconcile", {}).status == 401);
    CHECK(unauthorized.request("POST", "/reconcile", {{"Authorization", "Bearer wrong"}}).status ==
          401);
    CHECK(unauthorized.request("GET", "/reconcile/runs", {}).status == 401);
    CHECK(
        unauthorized.request("GET", "/reconcile", {{"Authorization", "Bearer " + bearer}}).status ==
        405);

    const auto trigger = [&] {
      auto client = test::local_client(service.port());
      return client.request("POST", "/reconcile?shop=" + shop,
                            {{"Authorization", "Bearer " + bearer}});
    };
    auto first = std::async(std::launch::async, trigger);
    auto second = std::async(std::launch::async, trigger);
    const auto a = first.get();
    const auto b = second.get();
    CHECK(a.status == 202);
    CHECK(b.status == 202);
    CHECK(field(a.body, "run_id") == field(b.body, "run_id"));
    CHECK(field(a.body, "started") != field(b.body, "started"));

    auto client = test::local_client(service.port());
    std::vector<std::string> runs;
    for (int i = 0; i < 200; ++i) {
      runs = test::elements(
          client.request("GET", "/reconcile/runs", {{"Authorization", "Bearer " + bearer}}).body,
          "runs");
      REQUIRE(runs.size() == 1);
      if (field(runs[0], "status") != "running") {
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    CHECK(field(runs[0], "status") == "succeeded");
    CHECK(field(runs[0], "id") == field(a.body, "run_id"));
    CHECK(shopify.counters().bulk_started == 1);
    CHECK(db.scalar("select count(*) from shopify.reconcile_runs") == "1");
    // The run shows in the metrics, labelled by shop.
    const std::string metrics = client.request("GET", "/metrics", {}).body;
    CHECK(metrics.find("shopmirror_reconcile_runs_total{shop=\"" + shop +
                       "\",status=\"succeeded\"} 1") != std::string::npos);
    CHECK(metrics.find("shopmirror_reconcile_last_drift{shop=\"" + shop +
                       "\",kind=\"inserted\"} 1") != std::string::npos);
  }

  TEST_CASE(
      "a trigger while another session holds the shop's lock without a run answers retry later") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    shopify.put_product(state_of(spec(1, "2026-01-01T00:00:00Z", "one")));
    test::environment env = admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", bearer);
    test::service_process service(db.url(), {secret}, env);
    auto client = test::local_client(service.port());
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Bearer " + bearer}};

    // What a sweep being confirmed, or the shop's erasure, holds: the lock
    // and no running run to answer with.
    pqxx::connection holder(db.url());
    pqxx::nontransaction hold(holder);
    hold.exec_params("select pg_advisory_lock(hashtext('shopmirror.reconcile'), hashtext($1))",
                     shop);
    const auto refused = client.request("POST", "/reconcile?shop=" + shop, auth);
    CHECK(refused.status == 503);
    CHECK(refused.header("Retry-After") == "5");
    CHECK(field(refused.body, "error").find("reconcile lock of " + shop + " is held elsewhere") !=
          std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.reconcile_runs") == "0");

    hold.exec_params("select pg_advisory_unlock(hashtext('shopmirror.reconcile'), hashtext($1))",
                     shop);
    CHECK(client.request("POST", "/reconcile?shop=" + shop, auth).status == 202);
  }

  TEST_CASE("a replica shows the freshness and drift of runs it did not make, from the database") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    // The run is made by the command, as another replica or a cron job would.
    REQUIRE(reconcile_command(shopify, db, {}).status == 0);
    const std::string finished =
        db.scalar("select extract(epoch from finished_at)::bigint from shopify.reconcile_runs");

    test::environment env = admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_REFRESH_INTERVAL_MS", "100");
    test::service_process service(db.url(), {secret}, env);
    auto client = test::local_client(service.port());
    const std::string success =
        "shopmirror_reconcile_last_success_timestamp_seconds{shop=\"" + shop + "\"} ";
    std::string metrics;
    for (int i = 0; i < 100 && metrics.find(success) == std::string::npos; ++i) {
      std::this_thread::sleep_for(50ms);
      metrics = client.request("GET", "/metrics", {}).body;
    }
    const auto at = metrics.find(success);
    REQUIRE_MESSAGE(at != std::string::npos, metrics);
    CHECK(std::llround(std::stod(metrics.substr(at + success.size()))) == std::stoll(finished));
    const std::string drift = "shopmirror_reconcile_last_drift{shop=\"" + shop + "\",kind=";
    CHECK(metrics.find(drift + "\"inserted\"} 2") != std::string::npos);
    CHECK(metrics.find(drift + "\"updated\"} 1") != std::string::npos);
    CHECK(metrics.find(drift + "\"tombstoned\"} 1") != std::string::npos);
    CHECK(metrics.find("shopmirror_reconcile_held_sweep{shop=\"" + shop + "\"} 0") !=
          std::string::npos);
    // Counted by the process that made it, not by this one.
    CHECK(metrics.find("shopmirror_reconcile_runs_total{shop=") == std::string::npos);
  }

  TEST_CASE("a stub payload ends as a full product row") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    const auto whole = spec(31, "2026-05-01T00:00:00Z", "too big for a webhook", 4);
    shopify.put_product(state_of(whole));
    test::environment env = admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_REFRESH_INTERVAL_MS", "100");
    test::service_process service(db.url(), {secret}, env);
    send(service.port(), "products/update", "{\"id\":31}", "stub-31");
    std::string row;
    for (int i = 0; i < 100 && row != expected_row(whole); ++i) {
      std::this_thread::sleep_for(50ms);
      row = mirror_row(db, 31);
    }
    CHECK(row == expected_row(whole));
    CHECK(db.scalar("select count(*) from shopify.product_refresh_requests") == "0");
    CHECK(shopify.counters().of("ProductById") == 1);
    auto client = test::local_client(service.port());
    CHECK(client.request("GET", "/metrics", {})
              .body.find("shopmirror_refreshes_total{shop=\"" + shop +
                         "\",outcome=\"applied\"} 1") != std::string::npos);

    // A products/create stub goes the same way.
    const auto created = spec(32, "2026-05-02T00:00:00Z", "created too big", 2);
    shopify.put_product(state_of(created));
    send(service.port(), "products/create", "{\"id\":32}", "stub-32");
    for (int i = 0; i < 100 && row != expected_row(created); ++i) {
      std::this_thread::sleep_for(50ms);
      row = mirror_row(db, 32);
    }
    CHECK(row == expected_row(created));
    CHECK(
        db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = 'stub-32'") ==
        "refresh_requested");
  }

} // TEST_SUITE

TEST_SUITE("e2e") {

  TEST_CASE("a bulk operation that does not start falls back to pages") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    shopify.fail_next_bulk_start();
    const auto result = reconcile_command(shopify, db);
    CHECK(result.status == 0);
    CHECK(test::logged(result.output, "bulk_operation_refused", {{"fallback", "paginated"}}));
    const std::string run = run_line(result.output);
    CHECK(field(run, "status") == "succeeded");
    CHECK(field(run, "tombstoned") == "1");
    CHECK(shopify.counters().bulk_started == 0);
    CHECK(shopify.counters().of("ProductsPage") >= 1);
    drifted.check_repaired(db);
  }

  TEST_CASE("a bulk query already in progress is waited for and the listing is then by bulk") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    bool names_it = true;
    SUBCASE("the refusal names the operation in progress") {}
    SUBCASE("the refusal does not name it: the running ones are looked up") {
      names_it = false;
      shopify.set_bulk_in_progress_names_operation(false);
    }
    // Another replica's, or one a replica left running when it died.
    const std::string elsewhere = shopify.start_bulk_operation_elsewhere(3);
    const auto result = reconcile_command(shopify, db);
    CHECK(result.status == 0);
    const std::string run = run_line(result.output);
    CHECK(field(run, "status") == "succeeded");
    CHECK(field(run, "mode") == "bulk");
    CHECK(field(run, "tombstoned") == "1");
    drifted.check_repaired(db);
    CHECK(field(test::log_line(result.output, "bulk_operation_waiting"), "in_progress")
              .find(elsewhere) != std::string::npos);
    const auto counters = shopify.counters();
    CHECK(counters.bulk_in_progress == 1);
    CHECK(counters.of("StartBulkProducts") == 2);
    CHECK(counters.bulk_started == 1);
    CHECK(counters.bulk_ungrouped == 0);
    CHECK(counters.of("BulkOperations") == (names_it ? 0 : 1));
    CHECK(counters.of("BulkOperationById") >= 4 + 2); // the other to its end, then ours
    CHECK(counters.of("bulk_download") == 1);         // ours only
    CHECK(counters.of("ProductsPage") == 0);
    CHECK_FALSE(test::logged(result.output, "bulk_operation_refused"));
  }

  TEST_CASE(
      "a bulk query in progress that never ends makes the run list by pages within the bound") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    const std::string stuck = shopify.start_bulk_operation_elsewhere(-1);
    const auto began = std::chrono::steady_clock::now();
    const auto result =
        reconcile_command(shopify, db, {}, "bulk", {{"SHOPMIRROR_RECONCILE_BULK_TIMEOUT", "3s"}});
    const auto took = std::chrono::steady_clock::now() - began;
    CHECK(result.status == 0);
    const std::string run = run_line(result.output);
    CHECK(field(run, "status") == "succeeded");
    CHECK(field(run, "tombstoned") == "1");
    drifted.check_repaired(db);
    // It waited for the bound, not longer, and said why it gave up on bulk.
    CHECK(took >= 3s);
    CHECK(took < 15s);
    const std::string refused = test::log_line(result.output, "bulk_operation_refused");
    const std::string error = field(refused, "error");
    CHECK(error.find(stuck) != std::string::npos);
    CHECK(error.find("still in progress after the bulk timeout of 3 s") != std::string::npos);
    CHECK(field(refused, "fallback") == "paginated");
    const auto counters = shopify.counters();
    CHECK(counters.bulk_started == 0);
    CHECK(counters.of("StartBulkProducts") == 1);
    CHECK(counters.of("BulkOperationById") >= 3); // polled while it waited
    CHECK(counters.of("ProductsPage") >= 1);
  }

  TEST_CASE("a bulk result that holds other than the products Shopify counted fails the run") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    drifted_shop drifted(shopify, db);
    // Every object Shopify counted is in the file, but it counted a product
    // more than the file holds: a listing that may lack a product, whose
    // sweep would tombstone it.
    shopify.miscount_next_bulk_roots(1);
    const auto result = reconcile_command(shopify, db);
    CHECK(result.status == 1);
    const std::string run = run_line(result.output);
    CHECK(field(run, "status") == "failed");
    CHECK(field(run, "error").find("holds 5 products, Shopify counted 6") != std::string::npos);
    CHECK(field(run, "tombstoned") == "0");
    CHECK(mirror_row(db, 9) == expected_row(drifted.gone, false));
    CHECK(db.scalar("select count(*) from shopify.products where deleted_at is not null") == "0");
    CHECK(db.scalar("select count(*) from shopify.reconcile_seen") == "0");
    CHECK(shopify.counters().of("bulk_download") == 1);

    // Counted right, the next run repairs everything.
    const auto again = reconcile_command(shopify, db);
    CHECK(again.status == 0);
    CHECK(field(run_line(again.output), "tombstoned") == "1");
    drifted.check_repaired(db);
  }

  TEST_CASE("several shops from SHOPMIRROR_CONFIG reconcile each and verify each one's own key") {
    test::test_database db;
    test::admin_api_settings alpha_is;
    alpha_is.shop_domain = "alpha.myshopify.com";
    test::admin_api_settings beta_is;
    beta_is.shop_domain = "beta.myshopify.com";
    test::admin_api_stand_in alpha(alpha_is);
    test::admin_api_stand_in beta(beta_is);
    alpha.put_product(state_of(spec(1, "2026-01-01T00:00:00Z", "alpha one")));
    beta.put_product(state_of(spec(2, "2026-01-01T00:00:00Z", "beta two")));
    beta.put_product(state_of(spec(3, "2026-01-01T00:00:00Z", "beta three")));
    char path[] = "/tmp/shopmirror-shops-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const std::string config =
        R"({"shops": [{"domain": "alpha.myshopify.com", "admin_token": ")" + alpha.access_token() +
        R"(", "admin_api_url": ")" + alpha.base_url() +
        R"(", "webhook_secrets": ["alpha-own-key"]}, {"domain": "beta.myshopify.com", "admin_token": ")" +
        beta.access_token() + R"(", "admin_api_url": ")" + beta.base_url() + R"("}]})";
    REQUIRE(write(fd, config.data(), config.size()) == static_cast<ssize_t>(config.size()));
    close(fd);

    test::child_process command(
        {test::shopmirror_binary(), "reconcile"},
        {{"SHOPMIRROR_DATABASE_URL", db.url()}, {"SHOPMIRROR_CONFIG", path}});
    const auto status = command.wait(std::chrono::seconds(60));
    REQUIRE(status);
    CHECK(*status == 0);
    CHECK(db.scalar("select string_agg(shop_domain || ':' || product_id, ' ' order by product_id) "
                    "from shopify.live_products") ==
          "alpha.myshopify.com:1 beta.myshopify.com:2 beta.myshopify.com:3");
    CHECK(db.scalar("select string_agg(shop_domain || ':' || inserted, ' ' order by shop_domain) "
                    "from shopify.reconcile_runs") == "alpha.myshopify.com:1 beta.myshopify.com:2");

    // A shop's own key signs its deliveries, and only its deliveries.
    test::service_process service(
        db.url(), {secret}, {{"SHOPMIRROR_CONFIG", path}, {"SHOPMIRROR_RECONCILE_AT", "off"}});
    auto client = test::local_client(service.port());
    test::signed_delivery d;
    d.topic = "products/update";
    d.webhook_id = "own-key-1";
    d.body = test::product_json(spec(1, "2026-02-01T00:00:00Z", "alpha one, by its own key"));
    d.secret = "alpha-own-key";
    d.shop = "alpha.myshopify.com";
    CHECK(test::post_webhook(client, d).status == 200);
    d.webhook_id = "own-key-2";
    d.shop = "beta.myshopify.com";
    CHECK(test::post_webhook(client, d).status == 401);
    std::remove(path);
  }

} // TEST_SUITE
