// Compliance and the app's lifecycle against a real PostgreSQL: each topic
// through the apply path; a shop's erasure in batches, which leaves nothing
// of it and touches no other shop; an app table that holds it up; and the
// installation state that uninstalls and product webhooks write.

#include "db/delivery_store.hpp"
#include "db/installations.hpp"
#include "db/reconcile_store.hpp"
#include "db/shop_erasure.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace shopmirror;
using model::apply_outcome;
using test::item_from_body;

namespace {

const std::string erased_shop = "gone.myshopify.com";
const std::string other_shop = "kept.myshopify.com";

apply_outcome apply_one(db::delivery_store& store, const model::delivery_item& item) {
  const auto outcomes = store.apply(std::span(&item, 1));
  REQUIRE(outcomes.size() == 1);
  return outcomes[0];
}

std::string redact_body(const std::string& shop) {
  return R"({"shop_id":954889,"shop_domain":")" + shop + "\"}";
}

/// The tables a shop/redact erases, and how to count a shop's rows in each.
const std::map<std::string, std::string>& shop_rows() {
  static const std::map<std::string, std::string> queries = {
      {"products", "select count(*) from shopify.products where shop_domain = $S"},
      {"product_variants", "select count(*) from shopify.product_variants where shop_domain = $S"},
      {"webhook_deliveries",
       "select count(*) from shopify.webhook_deliveries where shop_domain = $S"},
      {"dead_letters", "select count(*) from shopify.dead_letters where shop_domain = $S"},
      {"product_refresh_requests",
       "select count(*) from shopify.product_refresh_requests where shop_domain = $S"},
      {"reconcile_runs", "select count(*) from shopify.reconcile_runs where shop_domain = $S"},
      {"reconcile_seen", "select count(*) from shopify.reconcile_seen s "
                         "join shopify.reconcile_runs r on r.id = s.run_id "
                         "where r.shop_domain = $S"},
      {"reconcile_failures", "select count(*) from shopify.reconcile_failures f "
                             "join shopify.reconcile_runs r on r.id = f.run_id "
                             "where r.shop_domain = $S"},
  };
  return queries;
}

std::map<std::string, std::string> counts(const test::test_database& db, const std::string& shop) {
  std::map<std::string, std::string> out;
  for (const auto& [table, sql] : shop_rows()) {
    std::string query = sql;
    query.replace(query.find("$S"), 2, "'" + shop + "'");
    out[table] = db.scalar(query);
  }
  return out;
}

/// `n` products of a shop with two variants each, and a row in every other
/// table of the mirror: written with SQL, as fast as that goes.
void fill_shop(const test::test_database& db, const std::string& shop, int n) {
  const std::string s = "'" + shop + "'";
  const std::string count = std::to_string(n);
  db.execute("insert into shopify.products (shop_domain, product_id, title, version_updated_at, "
             "version_observed_at, updated_at, content_observed_at, source) "
             "select " +
             s +
             ", g, 'P' || g, now(), now(), now(), now(), "
             "jsonb_build_object('id', g) from generate_series(1, " +
             count + ") g");
  db.execute("insert into shopify.product_variants (shop_domain, variant_id, product_id, price) "
             "select " +
             s + ", g * 10 + k, g, 1.50 from generate_series(1, " + count +
             ") g, generate_series(1, 2) k");
  db.execute("insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, "
             "received_at, outcome, product_id) select " +
             s +
             ", 'w-' || g, 'products/update', "
             "now(), 'applied', g from generate_series(1, " +
             count + ") g");
  db.execute("insert into shopify.dead_letters (shop_domain, webhook_id, topic, received_at, "
             "reason, headers, body) select " +
             s +
             ", 'd-' || g, 'products/update', now(), "
             "'malformed', '{}', 'x' from generate_series(1, 3) g");
  db.execute("insert into shopify.product_refresh_requests (shop_domain, product_id) "
             "select " +
             s + ", g from generate_series(1, 4) g");
  db.execute("insert into shopify.reconcile_runs (shop_domain, trigger, mode, status) "
             "select " +
             s + ", 'command', 'bulk', 'held' from generate_series(1, 2)");
  db.execute("insert into shopify.reconcile_seen (run_id, product_id) "
             "select r.id, g from shopify.reconcile_runs r, generate_series(1, 5) g "
             "where r.shop_domain = " +
             s);
  db.execute("insert into shopify.reconcile_failures (run_id, product_id, reason) "
             "select r.id, g, 'unreadable' from shopify.reconcile_runs r, generate_series(1, 3) g "
             "where r.shop_domain = " +
             s);
}

/// Runs the erasure's steps to the end (or to a failed step) on one store,
/// as the worker does, counting them.
struct erasure_run {
  int steps = 0;
  std::map<std::string, int> steps_by_table;
  std::string error;
};

erasure_run erase(db::erasure_store& store, const db::shop_redaction& redaction) {
  erasure_run run;
  for (;;) {
    REQUIRE(run.steps < 100000);
    const db::erasure_step step = store.step(redaction);
    if (!step.error.empty()) {
      run.error = step.error;
      return run;
    }
    if (step.finished) {
      return run;
    }
    ++run.steps;
    ++run.steps_by_table[step.table];
  }
}

db::shop_redaction claim(db::erasure_store& store) {
  const auto claimed = store.claim();
  REQUIRE(claimed.ok());
  REQUIRE(claimed.value);
  return *claimed.value;
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("each compliance topic through the apply path: recorded once with its outcome") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const std::string customer =
        R"({"shop_id":954889,"shop_domain":"gone.myshopify.com","customer":{"id":191167,)"
        R"("email":"john@example.com","phone":"555-625-1199"},"orders_requested":[299938]})";
    const auto data_request = item_from_body("customers/data_request", customer, "c-1",
                                             "2026-03-01T10:00:00Z", erased_shop);
    CHECK(apply_one(store, data_request) == apply_outcome::recorded);
    CHECK(apply_one(store, data_request) == apply_outcome::duplicate);
    CHECK(apply_one(store, item_from_body("customers/redact", customer, "c-2", std::nullopt,
                                          erased_shop)) == apply_outcome::recorded);
    CHECK(db.scalar("select count(*) from shopify.compliance_requests") == "2");
    CHECK(db.scalar("select topic || ' ' || shop_id || ' ' || customer_id || ' ' || requested_at "
                    "from shopify.compliance_requests where webhook_id = 'c-1'") ==
          "customers/data_request 954889 191167 2026-03-01 10:00:00+00");
    // The ids are kept; the customer's e-mail and phone are not.
    CHECK(db.scalar("select request::text from shopify.compliance_requests "
                    "where webhook_id = 'c-1'") ==
          R"({"shop_id": 954889, "customer": {"id": 191167}, "shop_domain": "gone.myshopify.com", )"
          R"("orders_requested": [299938]})");
    CHECK(db.scalar("select count(*) from shopify.compliance_requests "
                    "where request::text like '%john@%' or request::text like '%555-%'") == "0");
    CHECK(db.scalar("select string_agg(outcome, ',' order by webhook_id) "
                    "from shopify.webhook_deliveries") == "recorded,recorded");

    const auto redact = item_from_body("shop/redact", redact_body(erased_shop), "r-1",
                                       "2026-03-03T10:00:00Z", erased_shop);
    CHECK(apply_one(store, redact) == apply_outcome::redaction_requested);
    CHECK(apply_one(store, redact) == apply_outcome::duplicate);
    CHECK(db.scalar("select shop_domain || ' ' || shop_id || ' ' || webhook_id || ' ' || "
                    "requested_at || ' ' || (finished_at is null) from shopify.shop_redactions") ==
          "gone.myshopify.com 954889 r-1 2026-03-03 10:00:00+00 true");
    // shop/redact comes only after an uninstall: the shop is uninstalled too.
    CHECK_FALSE(db::shop_installed(db.settings(), erased_shop));

    const auto uninstall = item_from_body("app/uninstalled", R"({"id":548380009,"name":"x"})",
                                          "u-1", "2026-03-04T10:00:00Z", other_shop);
    CHECK(apply_one(store, uninstall) == apply_outcome::uninstalled);
    CHECK(db.scalar("select shop_id || ' ' || uninstalled_at || ' ' || uninstall_webhook_id "
                    "from shopify.shop_installations where shop_domain = '" +
                    other_shop + "'") == "548380009 2026-03-04 10:00:00+00 u-1");
    CHECK(db.scalar("select string_agg(outcome, ',' order by webhook_id) from "
                    "shopify.webhook_deliveries where webhook_id in ('r-1', 'u-1')") ==
          "redaction_requested,uninstalled");

    // A malformed one is a dead letter, with its reason, and nothing else.
    const auto malformed = item_from_body("shop/redact", R"({"shop_domain":"gone.myshopify.com"})",
                                          "r-2", std::nullopt, erased_shop);
    CHECK(apply_one(store, malformed) == apply_outcome::dead_letter);
    CHECK(db.scalar("select reason from shopify.dead_letters where webhook_id = 'r-2'")
              .find("shop_id") != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.shop_redactions") == "1");
  }

  TEST_CASE("a batch mixing every action applies each in one call") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const std::vector<model::delivery_item> batch = {
        item_from_body("products/create",
                       test::product_json({1, "Mug", "2026-01-01T00:00:00Z", "", "active", {}}),
                       "p-1", "2026-01-01T00:00:01Z", erased_shop),
        item_from_body("shop/redact", redact_body(erased_shop), "r-1", "2026-01-02T00:00:00Z",
                       erased_shop),
        item_from_body("customers/redact",
                       R"({"shop_id":1,"shop_domain":"kept.myshopify.com","customer":{"id":2}})",
                       "c-1", std::nullopt, other_shop),
        item_from_body("app/uninstalled", "{}", "u-1", "2026-01-03T00:00:00Z", other_shop),
        item_from_body("orders/create", "{}", "o-1", std::nullopt, other_shop),
        // A dead letter's body need not be JSON: it is never read as such.
        item_from_body("products/update", "{\"id\": 3, oops", "d-1", std::nullopt, other_shop),
    };
    const auto outcomes = store.apply(batch);
    CHECK(outcomes ==
          std::vector<apply_outcome>{apply_outcome::applied, apply_outcome::redaction_requested,
                                     apply_outcome::recorded, apply_outcome::uninstalled,
                                     apply_outcome::ignored, apply_outcome::dead_letter});
    CHECK(db.scalar("select count(*) from shopify.shop_installations where uninstalled_at is not "
                    "null") == "2");
  }

  TEST_CASE("an erasure in batches leaves nothing of the shop and touches no other shop") {
    test::test_database db;
    fill_shop(db, erased_shop, 250);
    fill_shop(db, other_shop, 40);
    db::delivery_store deliveries(db.settings());
    REQUIRE(apply_one(deliveries, item_from_body("shop/redact", redact_body(erased_shop), "r-1",
                                                 std::nullopt, erased_shop)) ==
            apply_outcome::redaction_requested);
    const auto other_before = counts(db, other_shop);
    const auto erased_before = counts(db, erased_shop);
    for (const auto& [table, count] : erased_before) {
      CAPTURE(table);
      CHECK(count != "0"); // something in every table to erase
    }

    db::erasure_settings settings;
    settings.batch_rows = 37;
    db::erasure_store store(db.settings(), settings);
    const db::shop_redaction redaction = claim(store);
    CHECK(redaction.shop == erased_shop);
    CHECK(redaction.webhook_id == "r-1");
    // Leased: another session finds nothing due.
    db::erasure_store other(db.settings(), settings);
    CHECK_FALSE(other.claim().value);

    const erasure_run run = erase(store, redaction);
    REQUIRE(run.error.empty());
    // In batches: no step erased more than 37 rows, so the 500 variants took
    // at least 14 steps, and the 250 products 7.
    CHECK(run.steps_by_table.at("product_variants") >= 14);
    CHECK(run.steps_by_table.at("products") >= 7);
    CHECK(run.steps_by_table.at("webhook_deliveries") >= 7);

    for (const auto& [table, count] : counts(db, erased_shop)) {
      CAPTURE(table);
      CHECK(count == "0");
    }
    CHECK(counts(db, other_shop) == other_before);

    // The request outlives the erasure and says what was erased.
    const auto record = store.find(redaction.id);
    REQUIRE(record.ok());
    REQUIRE(record.value);
    CHECK(record.value->finished_at);
    CHECK(record.value->shop == erased_shop);
    for (const auto& [table, count] : erased_before) {
      CAPTURE(table);
      CHECK(db.scalar("select erased ->> '" + table + "' from shopify.shop_redactions") == count);
    }
    CHECK(record.value->erased_rows > 0);
    // Finished: a further step does nothing.
    CHECK(store.step(redaction).finished);
    CHECK_FALSE(store.claim().value);
    const auto backlog = store.backlog();
    REQUIRE(backlog.ok());
    CHECK(backlog.value.due == 0);
    CHECK(backlog.value.failing == 0);
  }

  TEST_CASE(
      "an app table referencing products without ON DELETE CASCADE holds the erasure up visibly") {
    test::test_database db;
    fill_shop(db, erased_shop, 20);
    db.execute("create schema crm");
    db.execute("create table crm.kol_product_links ("
               "  kol_id bigint not null, shop_domain text not null, product_id bigint not null,"
               "  constraint kol_product foreign key (shop_domain, product_id) "
               "    references shopify.products (shop_domain, product_id))");
    db.execute("insert into crm.kol_product_links values (1, '" + erased_shop + "', 7)");
    db::delivery_store deliveries(db.settings());
    REQUIRE(apply_one(deliveries, item_from_body("shop/redact", redact_body(erased_shop), "r-1",
                                                 std::nullopt, erased_shop)) ==
            apply_outcome::redaction_requested);

    db::erasure_settings settings;
    settings.batch_rows = 1000;
    db::erasure_store store(db.settings(), settings);
    const db::shop_redaction redaction = claim(store);
    const erasure_run failed = erase(store, redaction);
    CHECK(failed.error.find("23503") != std::string::npos); // foreign_key_violation
    CHECK(failed.error.find("kol_product_links") != std::string::npos);
    CHECK(store.record_failure(redaction, failed.error).empty());
    CHECK(db.scalar("select attempts || ' ' || (last_error like '%kol_product_links%') || ' ' || "
                    "(not_before > now()) || ' ' || (finished_at is null) "
                    "from shopify.shop_redactions") == "1 true true true");
    const auto backlog = store.backlog();
    CHECK(backlog.value.failing == 1);
    // Everything but the products is erased already; the products stay whole.
    auto left = counts(db, erased_shop);
    CHECK(left["products"] == "20");
    CHECK(left["webhook_deliveries"] == "0");
    CHECK(left["dead_letters"] == "0");
    CHECK(left["product_variants"] == "0");

    // With ON DELETE CASCADE, the next attempt goes through and takes the
    // app's rows with it.
    db.execute("alter table crm.kol_product_links drop constraint kol_product");
    db.execute("alter table crm.kol_product_links add foreign key (shop_domain, product_id) "
               "references shopify.products (shop_domain, product_id) on delete cascade");
    db.execute("update shopify.shop_redactions set not_before = now()");
    const db::shop_redaction retried = claim(store);
    CHECK(retried.attempts == 1);
    const erasure_run done = erase(store, retried);
    CHECK(done.error.empty());
    CHECK(db.scalar("select count(*) from shopify.products") == "0");
    CHECK(db.scalar("select count(*) from crm.kol_product_links") == "0");
    CHECK(db.scalar("select finished_at is not null from shopify.shop_redactions") == "t");
  }

  TEST_CASE("the shop's reconcile lock keeps a run and an erasure apart") {
    test::test_database db;
    db::reconcile_store runs(db.settings());
    db::run_request request;
    request.shop = erased_shop;
    const auto run = runs.try_begin(request);
    REQUIRE(run);
    db::erasure_store store(db.settings(), {});
    const auto while_running = store.lock_shop(erased_shop);
    REQUIRE(while_running.ok());
    CHECK_FALSE(while_running.value);
    CHECK(store.lock_shop(other_shop).value);
    store.unlock_shop(other_shop);
    runs.fail(*run, "test over");
    CHECK(store.lock_shop(erased_shop).value);
    CHECK_FALSE(runs.try_begin(request)); // and the erasure keeps runs out
    store.unlock_shop(erased_shop);
    CHECK(runs.try_begin(request));
  }

  TEST_CASE("app/uninstalled is recorded - a product webhook sent after it reinstalls and one sent "
            "before does not") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const std::string shop = other_shop;
    CHECK(db::shop_installed(db.settings(), shop)); // no word yet: installed
    CHECK(apply_one(store, item_from_body("app/uninstalled", R"({"id":5})", "u-1",
                                          "2026-05-01T12:00:00Z", shop)) ==
          apply_outcome::uninstalled);
    auto state = db::read_installation(db.settings(), shop);
    CHECK_FALSE(state.installed);
    CHECK(state.uninstalled_at == std::optional<std::string>("2026-05-01T12:00:00.000000Z"));
    CHECK_FALSE(state.reinstalled_at);
    CHECK(db::shop_installed(db.settings(), erased_shop)); // another shop is not touched

    // A delivery Shopify sent before the uninstall, arriving late (a retry):
    // applied, but no sign of a reinstall.
    const auto product = [&](const std::string& webhook_id, const std::string& triggered) {
      return item_from_body(
          "products/update",
          test::product_json({9, "Mug", "2026-04-30T00:00:00Z", "", "active", {}}), webhook_id,
          triggered, shop);
    };
    CHECK(apply_one(store, product("p-late", "2026-05-01T11:59:00Z")) == apply_outcome::applied);
    CHECK_FALSE(db::shop_installed(db.settings(), shop));
    // A stub and a delete sent before it: neither.
    CHECK(apply_one(store, item_from_body("products/update", R"({"id":10})", "s-late",
                                          "2026-05-01T11:00:00Z", shop)) ==
          apply_outcome::refresh_requested);
    CHECK(apply_one(store, test::delete_item(11, "d-late", "2026-05-01T11:30:00Z", shop)) ==
          apply_outcome::applied);
    CHECK_FALSE(db::shop_installed(db.settings(), shop));

    // One sent after it: Shopify sends webhooks to installed apps only.
    CHECK(apply_one(store, product("p-after", "2026-05-02T08:00:00Z")) == apply_outcome::applied);
    state = db::read_installation(db.settings(), shop);
    CHECK(state.installed);
    CHECK(state.reinstalled_at == std::optional<std::string>("2026-05-02T08:00:00.000000Z"));
    CHECK(db.scalar("select reinstall_webhook_id from shopify.shop_installations") == "p-after");

    // A late copy of the old uninstall (another subscription's) changes nothing.
    CHECK(apply_one(store, item_from_body("app/uninstalled", "{}", "u-1-copy",
                                          "2026-05-01T12:00:00Z", shop)) ==
          apply_outcome::uninstalled);
    CHECK(db::shop_installed(db.settings(), shop));
    // A new uninstall does.
    CHECK(apply_one(store, item_from_body("app/uninstalled", "{}", "u-2", "2026-05-03T00:00:00Z",
                                          shop)) == apply_outcome::uninstalled);
    CHECK_FALSE(db::shop_installed(db.settings(), shop));
    CHECK(db.scalar("select shop_id from shopify.shop_installations") == "5"); // kept

    // In one batch, an uninstall and a product sent after it: installed.
    const std::vector<model::delivery_item> batch = {
        product("p-batch", "2026-05-04T00:00:01Z"),
        item_from_body("app/uninstalled", "{}", "u-3", "2026-05-04T00:00:00Z", shop)};
    store.apply(batch);
    CHECK(db::shop_installed(db.settings(), shop));
  }

  TEST_CASE("refresh requests of an uninstalled shop wait and are claimed once it is back") {
    test::test_database db;
    db::delivery_store deliveries(db.settings());
    const std::string shop = other_shop;
    REQUIRE(apply_one(deliveries, item_from_body("products/update", R"({"id":42})", "stub-1",
                                                 "2026-05-01T11:00:00Z", shop)) ==
            apply_outcome::refresh_requested);
    REQUIRE(apply_one(deliveries, item_from_body("app/uninstalled", "{}", "u-1",
                                                 "2026-05-01T12:00:00Z", shop)) ==
            apply_outcome::uninstalled);
    db::reconcile_store store(db.settings());
    CHECK(store.claim_refreshes(10).empty());
    auto backlogs = store.refresh_backlogs();
    REQUIRE(backlogs.size() == 1);
    CHECK(backlogs[0].paused == 1);
    CHECK(backlogs[0].due == 0);

    REQUIRE(apply_one(deliveries, item_from_body("products/update", R"({"id":43})", "stub-2",
                                                 "2026-05-02T00:00:00Z", shop)) ==
            apply_outcome::refresh_requested);
    const auto claimed = store.claim_refreshes(10);
    CHECK(claimed.size() == 2);
    backlogs = store.refresh_backlogs();
    CHECK(backlogs[0].paused == 0);
  }

} // TEST_SUITE("db")
