// Whatever happens, the mirror ends equal to what Shopify shows: one test a
// way it once did not (content that changed under the same updated_at, a
// wrong sweep, an empty listing or another store's, a product state replayed
// under products/delete, a product the listing cannot read, a stub nobody
// can fetch). The real binary, a real PostgreSQL, the Admin API stand-in.

#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace shopmirror;
using namespace std::chrono_literals;
using test::field;
using test::metric;
using test::mirror_row;
using test::reconcile_command;
using test::run_line;
using test::spec;
using test::state_of;

namespace {

/// A service whose webhooks land in `db`, with the stand-in as its Admin
/// API (stubs are fetched from it) and the reconcile endpoint on.
test::service_process service_for(const test::admin_api_stand_in& shopify,
                                  const test::test_database& db,
                                  const test::environment& extra = {}) {
  test::environment env = test::admin_env(shopify, db);
  env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", test::reconcile_bearer);
  env.emplace_back("SHOPMIRROR_REFRESH_INTERVAL_MS", "50");
  env.insert(env.end(), extra.begin(), extra.end());
  return test::service_process(db.url(), {test::reconcile_secret}, env);
}

/// Products 1..n, in the stand-in and (through their webhooks) the mirror.
void mirror_of(test::admin_api_stand_in& shopify, const test::test_database& db, int n) {
  auto service = service_for(shopify, db);
  for (int id = 1; id <= n; ++id) {
    const auto p = spec(id, "2026-01-01T00:00:00Z", "product " + std::to_string(id));
    shopify.put_product(state_of(p));
    test::send(service.port(), "products/create", test::product_json(p),
               "create-" + std::to_string(id));
  }
}

std::string live_count(const test::test_database& db) {
  return db.scalar("select count(*) from shopify.live_products");
}

void wait_until(const std::function<bool()>& done, const char* what) {
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, what);
    std::this_thread::sleep_for(50ms);
  }
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("content Shopify changed without moving updated_at is repaired and counted updated") {
    for (const std::string mode : {"bulk", "paginated"}) {
      CAPTURE(mode);
      test::test_database db;
      test::admin_api_stand_in shopify;
      // The webhook of the first of two edits in one second; the second's
      // (and an inventory change, which does not move updated_at) is lost.
      auto first = spec(1, "2026-05-01T10:00:00Z", "A0");
      first.variants[0].price = "10.00";
      first.variants[0].inventory = 5;
      {
        auto service = service_for(shopify, db);
        test::send(service.port(), "products/update", test::product_json(first), "edit-1");
      }
      auto second = first;
      second.title = "A";
      second.variants[0].price = "12.00";
      second.variants[0].inventory = 7;
      shopify.put_product(state_of(second));

      const auto run = run_line(reconcile_command(shopify, db, {}, mode).output);
      CHECK(field(run, "status") == "succeeded");
      CHECK(field(run, "updated") == "1");
      CHECK(field(run, "unchanged") == "0");
      CHECK(mirror_row(db, 1) == test::expected_row(second));

      // Now equal: the next run leaves it alone.
      const auto again = run_line(reconcile_command(shopify, db, {}, mode).output);
      CHECK(field(again, "updated") == "0");
      CHECK(field(again, "unchanged") == "1");
    }
  }

  TEST_CASE("a stub's refresh rewrites content that changed under the same updated_at") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    auto service = service_for(shopify, db);
    auto first = spec(1, "2026-05-01T10:00:00Z", "A0");
    test::send(service.port(), "products/update", test::product_json(first), "edit-1");
    auto second = first;
    second.title = "A";
    second.variants[1].inventory = 99;
    shopify.put_product(state_of(second));
    test::send(service.port(), "products/update", test::delete_json(1), "stub-1"); // {"id": 1}
    wait_until([&] { return mirror_row(db, 1) == test::expected_row(second); },
               "the stub's product was not fetched and applied");
    CHECK(db.scalar("select count(*) from shopify.product_refresh_requests") == "0");
  }

  TEST_CASE("a product a wrong listing swept comes back when a listing shows it") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    mirror_of(shopify, db, 12);
    // A listing that lacks product 5 (Shopify's mistake, or a partial result
    // that looked whole): the sweep tombstones it.
    const auto five = *shopify.product(5);
    REQUIRE(shopify.remove_product(5));
    const auto wrong = run_line(reconcile_command(shopify, db).output);
    CHECK(field(wrong, "status") == "succeeded");
    CHECK(field(wrong, "tombstoned") == "1");
    CHECK(db.scalar("select deleted_at is not null from shopify.products where product_id = 5") ==
          "t");
    // Every later listing shows it live: Shopify never revives a deleted
    // product, so the tombstone was wrong, and is lifted.
    shopify.put_product(five);
    const auto right = run_line(reconcile_command(shopify, db).output);
    CHECK(field(right, "revived") == "1");
    CHECK(field(right, "tombstoned") == "0");
    CHECK(mirror_row(db, 5) == test::expected_row(spec(5, "2026-01-01T00:00:00Z", "product 5")));
    const auto settled = run_line(reconcile_command(shopify, db).output);
    CHECK(field(settled, "revived") == "0");
    CHECK(field(settled, "unchanged") == "12");
  }

  TEST_CASE("a signed product state replayed under products/delete is a dead letter") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    auto service = service_for(shopify, db);
    const auto p = spec(7, "2026-01-01T00:00:00Z", "seven");
    test::send(service.port(), "products/create", test::product_json(p), "create-7");
    auto client = test::local_client(service.port());
    test::signed_delivery replay;
    replay.topic = "products/delete"; // the topic header is not signed
    replay.shop = test::reconcile_shop;
    replay.secret = test::reconcile_secret;
    replay.webhook_id = "replayed-under-delete";
    replay.body = test::product_json(p);
    const auto answer = test::post_webhook(client, replay);
    CHECK(answer.status == 200);
    CHECK(answer.body == "{\"outcome\":\"dead_letter\"}");
    CHECK(mirror_row(db, 7) == test::expected_row(p)); // still live, unchanged
    CHECK(db.scalar("select reason from shopify.dead_letters where webhook_id = "
                    "'replayed-under-delete'")
              .find("not a delete") != std::string::npos);
    const auto metrics = client.request("GET", "/metrics", {}).body;
    CHECK(metric(metrics, "shopmirror_webhook_dead_letters_total{shop=\"test-shop.myshopify.com\","
                          "kind=\"not_a_delete\"}") == "1");

    // A replayed {"id"} stub is a delete to look at: it tombstones, until a
    // listing shows the product live (the tombstone is newer than any state
    // Shopify had, but not than Shopify's own listing).
    replay.webhook_id = "stub-replayed-under-delete";
    replay.body = test::delete_json(7);
    CHECK(test::post_webhook(client, replay).status == 200);
    CHECK(db.scalar("select deleted_at is not null from shopify.products where product_id = 7") ==
          "t");
    shopify.put_product(state_of(p));
    const auto run = run_line(reconcile_command(shopify, db).output);
    CHECK(field(run, "revived") == "1");
    CHECK(mirror_row(db, 7) == test::expected_row(p));
  }

  TEST_CASE("an empty listing holds the sweep until an operator confirms it") {
    for (const std::string mode : {"bulk", "paginated"}) {
      CAPTURE(mode);
      test::test_database db;
      test::admin_api_stand_in shopify;
      mirror_of(shopify, db, 3);
      shopify.clear_catalog();
      const auto result = reconcile_command(shopify, db, {}, mode);
      CHECK(result.status == 1); // not succeeded
      const auto held = run_line(result.output);
      CHECK(field(held, "status") == "held");
      CHECK(field(held, "tombstoned") == "0");
      CHECK(field(held, "held_sweep") == "3");
      CHECK(field(held, "error").find("the listing was empty") != std::string::npos);
      CHECK(live_count(db) == "3");

      // The operator knows the shop is empty now.
      const auto confirmed = reconcile_command(shopify, db, {"--confirm-sweep", field(held, "id")});
      CHECK(confirmed.status == 0);
      CHECK(field(run_line(confirmed.output), "status") == "succeeded");
      CHECK(field(run_line(confirmed.output), "tombstoned") == "3");
      CHECK(live_count(db) == "0");
      // Once is enough.
      const auto twice = reconcile_command(shopify, db, {"--confirm-sweep", field(held, "id")});
      CHECK(twice.status == 1);
      CHECK(twice.output.find("not held") != std::string::npos);
    }
  }

  TEST_CASE("a sweep over the allowed share is held and a later run supersedes it") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    mirror_of(shopify, db, 20);
    for (int id = 13; id <= 20; ++id) {
      shopify.remove_product(id);
    }
    // 8 of 20 live products: 40 %, over the default 10 %.
    const auto held = run_line(reconcile_command(shopify, db).output);
    CHECK(field(held, "status") == "held");
    CHECK(field(held, "held_sweep") == "8");
    CHECK(field(held, "error").find("8 of 20 live products") != std::string::npos);
    CHECK(live_count(db) == "20");
    // A shop-wide setting, or one run's override, allows it.
    const auto allowed = run_line(reconcile_command(shopify, db, {"--max-sweep", "50%"}).output);
    CHECK(field(allowed, "status") == "succeeded");
    CHECK(field(allowed, "tombstoned") == "8");
    CHECK(live_count(db) == "12");
    // The held run's listing no longer describes the catalog.
    CHECK(db.scalar("select status from shopify.reconcile_runs where id = " + field(held, "id")) ==
          "superseded");
    const auto late = reconcile_command(shopify, db, {"--confirm-sweep", field(held, "id")});
    CHECK(late.status == 1);
    CHECK(late.output.find("superseded") != std::string::npos);
  }

  TEST_CASE("an Admin API that answers for another store fails the run before anything applies") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    mirror_of(shopify, db, 3);
    // A token (or SHOPMIRROR_ADMIN_API_URL) of another store, with its own catalog.
    shopify.set_shop_domain("another-store.myshopify.com");
    shopify.clear_catalog();
    shopify.put_product(state_of(spec(900, "2026-01-01T00:00:00Z", "another store's")));
    const auto result = reconcile_command(shopify, db);
    CHECK(result.status == 1);
    const auto run = run_line(result.output);
    CHECK(field(run, "status") == "failed");
    CHECK(field(run, "error")
              .find("answers for another-store.myshopify.com, not "
                    "test-shop.myshopify.com") != std::string::npos);
    CHECK(live_count(db) == "3");
    CHECK(mirror_row(db, 900) == "absent");
  }

  TEST_CASE("a product the listing cannot read is counted failed and never swept") {
    for (const std::string mode : {"bulk", "paginated"}) {
      CAPTURE(mode);
      test::test_database db;
      test::admin_api_stand_in shopify;
      mirror_of(shopify, db, 3);
      // Product 2 comes back in a shape the mapping refuses; 3 has changed.
      auto broken = state_of(spec(2, "2026-02-01T00:00:00Z", "two, unreadable"));
      broken.variants[0].price = "ten";
      shopify.put_product(broken);
      const auto three = spec(3, "2026-02-01T00:00:00Z", "three, changed");
      shopify.put_product(state_of(three));
      for (int night = 0; night < 2; ++night) {
        const auto result = reconcile_command(shopify, db, {}, mode);
        CHECK(result.status == 0);
        const auto run = run_line(result.output);
        CHECK(field(run, "status") == "succeeded");
        CHECK(field(run, "failed") == "1");
        CHECK(field(run, "tombstoned") == "0");
        CHECK(db.scalar("select product_id || ': ' || reason from shopify.reconcile_failures "
                        "where run_id = " +
                        field(run, "id"))
                  .find("2: ") == 0);
      }
      // It keeps its last good state; the others are repaired.
      CHECK(mirror_row(db, 2) == test::expected_row(spec(2, "2026-01-01T00:00:00Z", "product 2")));
      CHECK(mirror_row(db, 3) == test::expected_row(three));
    }
  }

  TEST_CASE("a stub for a shop shopmirror cannot fetch from is a dead letter") {
    test::test_database db;
    // No SHOPMIRROR_SHOP: nothing to fetch the product with.
    test::service_process service(db.url(), {test::reconcile_secret});
    auto client = test::local_client(service.port());
    test::signed_delivery stub;
    stub.topic = "products/update";
    stub.shop = test::reconcile_shop;
    stub.secret = test::reconcile_secret;
    stub.webhook_id = "stub-nobody-fetches";
    stub.body = test::delete_json(42); // {"id": 42}
    const auto answer = test::post_webhook(client, stub);
    CHECK(answer.status == 200);
    CHECK(answer.body == "{\"outcome\":\"dead_letter\"}");
    CHECK(db.scalar("select count(*) from shopify.product_refresh_requests") == "0");
    CHECK(db.scalar("select product_id || ' ' || convert_from(body, 'UTF8') from "
                    "shopify.dead_letters") == "42 {\"id\":42}");
    CHECK(metric(client.request("GET", "/metrics", {}).body,
                 "shopmirror_webhook_dead_letters_total{shop=\"test-shop.myshopify.com\","
                 "kind=\"unfetchable_stub\"}") == "1");
  }

  TEST_CASE("refresh requests that keep failing are listed and counted") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    shopify.fail_next_with_status(100000, 503); // the Admin API is down for good
    auto service = service_for(shopify, db, {{"SHOPMIRROR_RECONCILE_MAX_ATTEMPTS", "1"}});
    auto client = test::local_client(service.port());
    test::send(service.port(), "products/update", test::delete_json(42), "stub-42");
    const net::header_list auth = {{"Authorization", "Bearer " + test::reconcile_bearer}};
    std::vector<std::string> failing;
    wait_until(
        [&] {
          failing = test::elements(client.request("GET", "/reconcile/runs", auth).body,
                                   "failing_refreshes");
          return !failing.empty();
        },
        "the failing refresh was not listed");
    REQUIRE(failing.size() == 1);
    CHECK(field(failing[0], "shop") == "test-shop.myshopify.com");
    CHECK(field(failing[0], "product_id") == "42");
    CHECK(field(failing[0], "attempts") != "0");
    CHECK(field(failing[0], "last_error").find("503") != std::string::npos);
    wait_until(
        [&] {
          return metric(client.request("GET", "/metrics", {}).body,
                        "shopmirror_refresh_requests{shop=\"test-shop.myshopify.com\","
                        "state=\"failing\"}") == "1";
        },
        "the failing refresh was not counted");
  }

} // TEST_SUITE
