// Shopify's mandatory compliance webhooks and app/uninstalled, through the
// real binary, real HTTP and a real PostgreSQL: each topic is answered 200
// and recorded; a shop/redact erases a shop of 100,000 products while
// another shop's deliveries keep being answered well inside the
// acknowledgement budget; an app table that holds the erasure up is
// retried, visibly; and an uninstall stops reconcile and stub refreshes
// until a product webhook shows the app installed again.

#include "model/timestamp.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

using namespace shopmirror;
using namespace std::chrono_literals;
using test::metric;
using test::signed_delivery;

namespace {

const std::string secret = "compliance-secret";
const std::string shop = "gone.myshopify.com";
const std::string other_shop = "kept.myshopify.com";

std::string redact_body(const std::string& domain) {
  return R"({"shop_id":954889,"shop_domain":")" + domain + "\"}";
}

std::string customer_body(const std::string& domain, const std::string& orders_key) {
  return R"({"shop_id":954889,"shop_domain":")" + domain +
         R"(","customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},")" +
         orders_key + R"(":[299938,280263]})";
}

void wait_until(const std::function<bool()>& done, const char* what,
                std::chrono::seconds limit = 30s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, what);
    std::this_thread::sleep_for(50ms);
  }
}

/// A time `offset` from now, as X-Shopify-Triggered-At carries it.
std::string time_from_now(std::chrono::seconds offset) {
  const model::timestamp now = model::now();
  return model::format_rfc3339(model::timestamp{
      now.micros_since_epoch + static_cast<std::int64_t>(offset.count()) * 1000000});
}

/// What the mirror holds of a shop, table by table, as one line.
std::string rows_of(const test::test_database& db, const std::string& domain) {
  const std::string s = "'" + domain + "'";
  return db.scalar(
      "select concat_ws(' ', "
      "(select count(*) from shopify.products where shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.product_variants where shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.webhook_deliveries where shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.dead_letters where shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.product_refresh_requests where shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.reconcile_runs where shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.reconcile_seen e join shopify.reconcile_runs r "
      "   on r.id = e.run_id where r.shop_domain = " +
      s +
      "), "
      "(select count(*) from shopify.reconcile_failures f join shopify.reconcile_runs r "
      "   on r.id = f.run_id where r.shop_domain = " +
      s + "))");
}

const std::string nothing = "0 0 0 0 0 0 0 0";

/// `n` products of a shop (a variant each, each delivered once), a dead
/// letter, refresh requests and a held run: written with SQL, fast.
void fill_shop(const test::test_database& db, const std::string& domain, int n) {
  const std::string s = "'" + domain + "'";
  const std::string count = std::to_string(n);
  db.execute("insert into shopify.products (shop_domain, product_id, title, version_updated_at, "
             "version_observed_at, updated_at, content_observed_at, source) "
             "select " +
             s +
             ", g, 'P' || g, now(), now(), now(), now(), "
             "jsonb_build_object('id', g, 'title', 'P' || g) "
             "from generate_series(1, " +
             count + ") g");
  db.execute("insert into shopify.product_variants (shop_domain, variant_id, product_id, price) "
             "select " +
             s + ", g * 10, g, 9.99 from generate_series(1, " + count + ") g");
  db.execute("insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, "
             "received_at, outcome, product_id) select " +
             s +
             ", 'create-' || g, "
             "'products/create', now(), 'applied', g from generate_series(1, " +
             count + ") g");
  db.execute("insert into shopify.dead_letters (shop_domain, webhook_id, topic, received_at, "
             "reason, headers, body) values (" +
             s +
             ", 'dead-1', 'products/update', now(), "
             "'malformed', '{}', 'x')");
  db.execute("insert into shopify.product_refresh_requests (shop_domain, product_id) "
             "select " +
             s + ", g from generate_series(1, 10) g");
  db.execute("insert into shopify.reconcile_runs (shop_domain, trigger, mode, status) values "
             "(" +
             s + ", 'command', 'bulk', 'held')");
  db.execute("insert into shopify.reconcile_seen (run_id, product_id) select r.id, g "
             "from shopify.reconcile_runs r, generate_series(1, 100) g where r.shop_domain = " +
             s);
  db.execute("insert into shopify.reconcile_failures (run_id, product_id, reason) select r.id, "
             "1, 'unreadable' from shopify.reconcile_runs r where r.shop_domain = " +
             s);
}

struct fixture {
  test::test_database db;
  test::service_process service{db.url(), {secret}, {{"SHOPMIRROR_ERASE_INTERVAL_MS", "100"}}};
  net::http_client client = test::local_client(service.port());

  net::client_response send(const std::string& topic, const std::string& domain,
                            const std::string& webhook_id, const std::string& body,
                            std::optional<std::string> triggered_at = std::nullopt) {
    signed_delivery d;
    d.topic = topic;
    d.shop = domain;
    d.webhook_id = webhook_id;
    d.body = body;
    d.secret = secret;
    d.triggered_at = std::move(triggered_at);
    return test::post_webhook(client, d);
  }
  std::string metrics() { return client.request("GET", "/metrics", {}).body; }
};

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE_FIXTURE(
      fixture,
      "customers/data_request and customers/redact: 200 and recorded - no customer data kept") {
    const auto data_request =
        send("customers/data_request", shop, "c-1", customer_body(shop, "orders_requested"));
    CHECK(data_request.status == 200);
    CHECK(data_request.body == R"({"outcome":"recorded"})");
    const auto redact =
        send("customers/redact", shop, "c-2", customer_body(shop, "orders_to_redact"));
    CHECK(redact.status == 200);
    CHECK(redact.body == R"({"outcome":"recorded"})");
    CHECK(send("customers/redact", shop, "c-2", customer_body(shop, "orders_to_redact")).body ==
          R"({"outcome":"duplicate"})");

    CHECK(db.scalar("select string_agg(topic || ':' || outcome, ',' order by webhook_id) "
                    "from shopify.webhook_deliveries") ==
          "customers/data_request:recorded,customers/redact:recorded");
    CHECK(
        db.scalar("select string_agg(topic || ' ' || shop_id || ' ' || customer_id || ' ' || "
                  "coalesce((request -> 'orders_requested')::text, '-') || ' ' || "
                  "coalesce((request -> 'orders_to_redact')::text, '-'), ',' order by webhook_id) "
                  "from shopify.compliance_requests") ==
        "customers/data_request 954889 191167 [299938, 280263] -,"
        "customers/redact 954889 191167 - [299938, 280263]");
    // Nothing of the customer but ids: not in the tables, not in the log.
    CHECK(db.scalar("select count(*) from shopify.compliance_requests "
                    "where request::text like '%john%' or request::text like '%555-%'") == "0");
    CHECK(db.scalar("select count(*) from shopify.products") == "0");
    const std::string exposition = metrics();
    CHECK(
        metric(
            exposition,
            R"(shopmirror_compliance_requests_total{topic="customers/data_request",outcome="recorded"})") ==
        "1");
    CHECK(
        metric(
            exposition,
            R"(shopmirror_compliance_requests_total{topic="customers/redact",outcome="recorded"})") ==
        "1");
    CHECK(
        metric(
            exposition,
            R"(shopmirror_compliance_requests_total{topic="customers/redact",outcome="duplicate"})") ==
        "1");
    const auto line =
        service.process().wait_for_log({{"webhook_id", "c-1"}}, std::chrono::seconds(5));
    REQUIRE(line);
    CHECK(test::field(*line, "event") == "compliance_request");
    CHECK(test::field(*line, "outcome") == "recorded");
    CHECK(service.process().output().find("john@example.com") == std::string::npos);
  }

  TEST_CASE_FIXTURE(fixture,
                    "shop/redact: 200 once recorded - then the shop is erased in the background") {
    for (int id = 1; id <= 5; ++id) {
      REQUIRE(send("products/create", shop, "p-" + std::to_string(id),
                   test::product_json({id,
                                       "Mug",
                                       "2026-01-01T00:00:00Z",
                                       "",
                                       "active",
                                       {{id * 10, "9.50", "MUG", 1, 3}}}))
                  .status == 200);
      REQUIRE(send("products/create", other_shop, "p-" + std::to_string(id),
                   test::product_json({id, "Cup", "2026-01-01T00:00:00Z", "", "active", {}}))
                  .status == 200);
    }
    const std::string other_before = rows_of(db, other_shop);

    const auto answer = send("shop/redact", shop, "r-1", redact_body(shop));
    CHECK(answer.status == 200);
    CHECK(answer.body == R"({"outcome":"redaction_requested"})");
    wait_until(
        [&] {
          return db.scalar("select finished_at is not null from shopify.shop_redactions") == "t";
        },
        "the shop was not erased");
    CHECK(rows_of(db, shop) == nothing);
    CHECK(rows_of(db, other_shop) == other_before);
    CHECK(db.scalar("select shop_domain || ' ' || shop_id || ' ' || webhook_id || ' ' || "
                    "(erased ->> 'products') || ' ' || (erased ->> 'product_variants') || ' ' || "
                    "(erased ->> 'webhook_deliveries') from shopify.shop_redactions") ==
          "gone.myshopify.com 954889 r-1 5 5 6");
    // The shop is uninstalled: shop/redact comes 48 hours after an uninstall.
    CHECK(db.scalar("select shopify.shop_installed('" + shop + "')") == "f");

    const auto line = service.process().wait_for_log({{"event", "shop_erased"}}, 5s);
    REQUIRE_MESSAGE(line, service.process().output());
    CHECK(line->find(R"("shop":"gone.myshopify.com")") != std::string::npos);
    CHECK(line->find(R"("erased_rows":16)") != std::string::npos);
    wait_until(
        [&] {
          return metric(metrics(), R"(shopmirror_shop_erasures_total{outcome="erased"})") == "1";
        },
        "the erasure was not counted");
    const std::string exposition = metrics();
    CHECK(
        metric(
            exposition,
            R"(shopmirror_compliance_requests_total{topic="shop/redact",outcome="redaction_requested"})") ==
        "1");
    wait_until(
        [&] {
          return metric(metrics(), R"(shopmirror_shop_erasures_pending{state="due"})") == "0";
        },
        "the pending gauge did not fall to 0");
  }

  TEST_CASE_FIXTURE(fixture, "app/uninstalled: 200 and recorded - a malformed or misdirected "
                             "compliance body is a dead letter") {
    const auto uninstalled =
        send("app/uninstalled", shop, "u-1",
             test::fixture("shopify/app-uninstalled.shop-resource-fields.json"));
    CHECK(uninstalled.status == 200);
    CHECK(uninstalled.body == R"({"outcome":"uninstalled"})");
    CHECK(db.scalar("select shop_id || ' ' || uninstall_webhook_id || ' ' || "
                    "shopify.shop_installed(shop_domain) from shopify.shop_installations") ==
          "548380009 u-1 false");
    // The Shop resource's owner details are not kept anywhere.
    CHECK(service.process().output().find("super@supertoys.com") == std::string::npos);

    const auto no_id =
        send("shop/redact", shop, "r-bad", R"({"shop_domain":"gone.myshopify.com"})");
    CHECK(no_id.status == 200);
    CHECK(no_id.body == R"({"outcome":"dead_letter"})");
    CHECK(db.scalar("select reason from shopify.dead_letters where webhook_id = 'r-bad'")
              .find("shop_id") != std::string::npos);
    // Another shop's request under this shop's header: never an erasure.
    const auto moved = send("shop/redact", other_shop, "r-moved", redact_body(shop));
    CHECK(moved.body == R"({"outcome":"dead_letter"})");
    // A customer's request replayed as shop/redact: never an erasure.
    const auto replayed =
        send("shop/redact", shop, "r-replayed", customer_body(shop, "orders_to_redact"));
    CHECK(replayed.body == R"({"outcome":"dead_letter"})");
    CHECK(db.scalar("select count(*) from shopify.shop_redactions") == "0");
    const std::string exposition = metrics();
    CHECK(
        metric(
            exposition,
            R"(shopmirror_webhook_dead_letters_total{shop="kept.myshopify.com",kind="shop_mismatch"})") ==
        "1");
    CHECK(
        metric(
            exposition,
            R"(shopmirror_webhook_dead_letters_total{shop="gone.myshopify.com",kind="wrong_topic"})") ==
        "1");
    CHECK(
        metric(
            exposition,
            R"(shopmirror_compliance_requests_total{topic="shop/redact",outcome="dead_letter"})") ==
        "3");

    // Shopify requires a 401 for a compliance webhook with a bad signature.
    signed_delivery forged;
    forged.topic = "shop/redact";
    forged.shop = shop;
    forged.webhook_id = "r-forged";
    forged.body = redact_body(shop);
    forged.secret = "not-the-secret";
    CHECK(test::post_webhook(client, forged).status == 401);
    CHECK(db.scalar(
              "select count(*) from shopify.webhook_deliveries where webhook_id = 'r-forged'") ==
          "0");
  }

  TEST_CASE("a shop of 100000 products is erased while another shop's deliveries are all answered "
            "well inside the budget") {
    const auto test_started = std::chrono::steady_clock::now();
    test::test_database db;
    fill_shop(db, shop, 100000);
    const auto filled = std::chrono::steady_clock::now();
    test::service_process service(db.url(), {secret});
    constexpr auto ack_budget =
        std::chrono::milliseconds(3000); // SHOPMIRROR_ACK_TIMEOUT_MS's default

    // The other shop's deliveries, on two connections, from before the
    // shop/redact until after its erasure has finished.
    std::atomic<bool> stop{false};
    std::atomic<bool> erasing{false};
    std::mutex mutex;
    std::vector<unsigned> statuses;
    std::chrono::steady_clock::duration slowest{};
    int during_erasure = 0;
    const auto sender = [&](int lane) {
      auto client = test::local_client(service.port());
      for (int n = 0; !stop; ++n) {
        const std::int64_t id = lane * 1000 + n % 50 + 1;
        signed_delivery d;
        d.topic = "products/update";
        d.shop = other_shop;
        d.webhook_id = "lane-" + std::to_string(lane) + "-" + std::to_string(n);
        d.secret = secret;
        d.body = test::product_json({id,
                                     "Cup " + std::to_string(n),
                                     "2026-02-01T00:00:" + std::to_string(10 + n % 50) + "Z",
                                     "",
                                     "active",
                                     {{id * 10, "4.00", "CUP", 1, n}}});
        const auto sent = std::chrono::steady_clock::now();
        unsigned status = 0;
        try {
          status = test::post_webhook(client, d).status;
        } catch (const std::exception&) {
          status = 0; // no answer at all
        }
        const auto took = std::chrono::steady_clock::now() - sent;
        const std::lock_guard lock(mutex);
        statuses.push_back(status);
        slowest = std::max(slowest, took);
        during_erasure += erasing ? 1 : 0;
      }
    };
    std::thread lane_one(sender, 1);
    std::thread lane_two(sender, 2);
    const auto stop_senders = [&] {
      stop = true;
      lane_one.join();
      lane_two.join();
    };
    try {
      std::this_thread::sleep_for(300ms);
      auto client = test::local_client(service.port());
      signed_delivery redact;
      redact.topic = "shop/redact";
      redact.shop = shop;
      redact.webhook_id = "r-big";
      redact.secret = secret;
      redact.body = redact_body(shop);
      erasing = true;
      const auto requested = std::chrono::steady_clock::now();
      const auto answer = test::post_webhook(client, redact);
      REQUIRE(answer.status == 200);
      CHECK(answer.body == R"({"outcome":"redaction_requested"})");
      CHECK(std::chrono::steady_clock::now() - requested < ack_budget);
      wait_until(
          [&] {
            return db.scalar("select finished_at is not null from shopify.shop_redactions") == "t";
          },
          "the erasure did not finish within 180 s", 180s);
      erasing = false;
      std::this_thread::sleep_for(200ms);
    } catch (...) {
      stop_senders();
      throw;
    }
    stop_senders();

    const std::string erasure_seconds =
        db.scalar("select round(extract(epoch from finished_at - started_at)::numeric, 2) "
                  "from shopify.shop_redactions");
    const std::string erased = db.scalar("select erased::text from shopify.shop_redactions");
    const auto slowest_ms = std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count();
    const auto not_ok = std::count_if(statuses.begin(), statuses.end(),
                                      [](unsigned status) { return status != 200; });
    MESSAGE("erasure of 100,000 products took "
            << erasure_seconds << " s (" << erased << "); the other shop's " << statuses.size()
            << " deliveries (" << during_erasure << " during the erasure): slowest answer "
            << slowest_ms << " ms, " << not_ok << " not 200; filling the shop took "
            << std::chrono::duration_cast<std::chrono::seconds>(filled - test_started).count()
            << " s");
    CHECK(rows_of(db, shop) == nothing);
    CHECK(erased.find(R"("products": 100000)") != std::string::npos);
    CHECK(not_ok == 0);
    CHECK(during_erasure >= 20); // the deliveries really ran beside the erasure
    // Well inside the budget: half of it at most (its default is 3 s).
    CHECK(slowest < ack_budget / 2);
    // Every acknowledged delivery of the other shop is there.
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries where shop_domain = '" +
                    other_shop + "'") == std::to_string(statuses.size()));
    CHECK(db.scalar("select count(*) from shopify.products where shop_domain = '" + other_shop +
                    "'") == std::to_string(std::min<std::size_t>(100, statuses.size())));
  }

  TEST_CASE("an app table that references the products without ON DELETE CASCADE holds the erasure "
            "up visibly until it is fixed") {
    test::test_database db;
    fill_shop(db, shop, 30);
    db.execute("create schema crm");
    db.execute("create table crm.kol_product_links ("
               "  kol_id bigint not null, shop_domain text not null, product_id bigint not null,"
               "  constraint kol_product foreign key (shop_domain, product_id) "
               "    references shopify.products (shop_domain, product_id))");
    db.execute("insert into crm.kol_product_links values (1, '" + shop + "', 12)");
    test::service_process service(db.url(), {secret}, {{"SHOPMIRROR_ERASE_INTERVAL_MS", "100"}});
    auto client = test::local_client(service.port());
    signed_delivery redact;
    redact.topic = "shop/redact";
    redact.shop = shop;
    redact.webhook_id = "r-held";
    redact.secret = secret;
    redact.body = redact_body(shop);
    REQUIRE(test::post_webhook(client, redact).status == 200);

    const auto failed = service.process().wait_for_log({{"event", "shop_erasure_failed"}}, 30s);
    REQUIRE_MESSAGE(failed, service.process().output());
    CHECK(failed->find("kol_product_links") != std::string::npos);
    CHECK(failed->find("23503") != std::string::npos);
    wait_until(
        [&] {
          const std::string exposition = client.request("GET", "/metrics", {}).body;
          return metric(exposition, R"(shopmirror_shop_erasures_total{outcome="failed"})") != "" &&
                 metric(exposition, R"(shopmirror_shop_erasures_pending{state="failing"})") == "1";
        },
        "the failed erasure was not on /metrics");
    CHECK(db.scalar("select (attempts >= 1) || ' ' || (last_error like '%kol_product_links%') || "
                    "' ' || (finished_at is null) from shopify.shop_redactions") ==
          "true true true");
    CHECK(db.scalar("select count(*) from shopify.products where shop_domain = '" + shop + "'") ==
          "30");

    // The app's table cascades now: a later attempt erases the shop, and the
    // app's rows about it with it.
    db.execute("alter table crm.kol_product_links drop constraint kol_product");
    db.execute("alter table crm.kol_product_links add constraint kol_product "
               "foreign key (shop_domain, product_id) references shopify.products "
               "(shop_domain, product_id) on delete cascade");
    wait_until(
        [&] {
          return db.scalar("select finished_at is not null from shopify.shop_redactions") == "t";
        },
        "the erasure was not retried to its end", 60s);
    CHECK(rows_of(db, shop) == nothing);
    CHECK(db.scalar("select count(*) from crm.kol_product_links") == "0");
    CHECK(service.process().wait_for_log({{"event", "shop_erased"}}, 5s));
  }

  TEST_CASE("app/uninstalled stops triggered reconciles and stub refreshes until a later product "
            "webhook") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    const auto five = test::spec(5, "2026-05-01T10:00:00Z", "fetched");
    shopify.put_product(test::state_of(five));
    test::environment env = test::admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_RECONCILE_TOKEN", test::reconcile_bearer);
    env.emplace_back("SHOPMIRROR_REFRESH_INTERVAL_MS", "50");
    test::service_process service(db.url(), {test::reconcile_secret}, env);
    auto client = test::local_client(service.port());
    const auto send = [&](const std::string& topic, const std::string& body,
                          const std::string& webhook_id, std::optional<std::string> triggered) {
      signed_delivery d;
      d.topic = topic;
      d.shop = test::reconcile_shop;
      d.webhook_id = webhook_id;
      d.body = body;
      d.secret = test::reconcile_secret;
      d.triggered_at = std::move(triggered);
      const auto answer = test::post_webhook(client, d);
      REQUIRE(answer.status == 200);
      return answer.body;
    };
    const std::vector<std::pair<std::string, std::string>> bearer = {
        {"Authorization", "Bearer " + test::reconcile_bearer}};

    CHECK(send("app/uninstalled", "{\"id\":1}", "u-1", time_from_now(-10s)) ==
          R"({"outcome":"uninstalled"})");
    // A stub Shopify sent before the uninstall, arriving late: recorded, but
    // the Admin API is not asked for it.
    CHECK(send("products/update", "{\"id\":5}", "stub-late", time_from_now(-20s)) ==
          R"({"outcome":"refresh_requested"})");

    const auto refused = client.request("POST", "/reconcile?shop=" + test::reconcile_shop, bearer);
    CHECK(refused.status == 409);
    CHECK(refused.body.find("uninstalled") != std::string::npos);
    CHECK(refused.body.find(test::reconcile_shop) != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.reconcile_runs") == "0");
    wait_until(
        [&] {
          return metric(
                     client.request("GET", "/metrics", {}).body,
                     R"(shopmirror_refresh_requests{shop="test-shop.myshopify.com",state="paused"})") ==
                 "1";
        },
        "the paused refresh request was not on /metrics");
    std::this_thread::sleep_for(500ms); // ten looks of the refresh worker
    CHECK(shopify.counters().of("ProductById") == 0);
    CHECK(shopify.counters().of("ShopIdentity") == 0);
    CHECK(db.scalar("select count(*) from shopify.product_refresh_requests") == "1");

    // Shopify sends product webhooks to installed apps only: one sent after
    // the uninstall shows the app installed again.
    CHECK(send("products/update", test::product_json(test::spec(7, "2026-05-02T00:00:00Z", "new")),
               "after", std::nullopt) == R"({"outcome":"applied"})");
    wait_until(
        [&] { return db.scalar("select count(*) from shopify.product_refresh_requests") == "0"; },
        "the stub was not fetched once the shop was back");
    CHECK(shopify.counters().of("ProductById") >= 1);
    CHECK(test::mirror_row(db, 5) == test::expected_row(five));
    const auto accepted = client.request("POST", "/reconcile?shop=" + test::reconcile_shop, bearer);
    CHECK(accepted.status == 202);
    CHECK(accepted.body.find(R"("started":true)") != std::string::npos);
  }

} // TEST_SUITE("e2e")
