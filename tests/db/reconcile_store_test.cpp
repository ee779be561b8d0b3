// The reconcile's side of the database against a real PostgreSQL: drift
// counts, the sweep and what it must never tombstone, dry runs, the
// single-flight lock, refresh requests, and how the store's failures are
// classified and bounded.

#include "db/delivery_store.hpp"
#include "db/errors.hpp"
#include "db/reconcile_store.hpp"
#include "model/webhook_payload.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <functional>
#include <future>
#include <thread>

using namespace shopmirror;

namespace {

const std::string shop = "test-shop.myshopify.com";

test::product_spec spec(std::int64_t id, const std::string& updated, const std::string& title) {
  test::product_spec p;
  p.id = id;
  p.updated_at = updated;
  p.title = title;
  p.variants = {{id * 10 + 1, "9.99", "SKU-" + std::to_string(id), 1, 3}};
  return p;
}

/// A product as a listing gives it.
db::listed_product listed(std::int64_t id, const std::string& updated, const std::string& title) {
  const std::string body = test::product_json(spec(id, updated, title));
  auto mapped = model::map_product_webhook(model::product_topic::update, body);
  REQUIRE(std::holds_alternative<model::product_state>(mapped));
  return {std::get<model::product_state>(mapped), body};
}

/// A webhook of the same product, applied the way the service applies it.
void webhook(const test::test_database& db, std::int64_t id, const std::string& updated,
             const std::string& title, const std::string& webhook_id) {
  db::delivery_store store(db.settings());
  const auto item = test::item_from_body(
      "products/update", test::product_json(spec(id, updated, title)), webhook_id, updated);
  const auto outcomes = store.apply(std::span(&item, 1));
  REQUIRE(outcomes.size() == 1);
  REQUIRE(model::is_durable(outcomes[0]));
}

std::string title_of(const test::test_database& db, std::int64_t id) {
  return db.scalar("select title from shopify.products where product_id = " + std::to_string(id));
}

bool is_tombstoned(const test::test_database& db, std::int64_t id) {
  return db.scalar("select deleted_at is not null from shopify.products where product_id = " +
                   std::to_string(id)) == "t";
}

db::run_request full_run() {
  db::run_request r;
  r.shop = shop;
  r.mode = db::run_mode::bulk;
  return r;
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("a run repairs what webhooks missed and counts the drift") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one old", "w1");
    webhook(db, 2, "2026-01-01T00:00:00Z", "two", "w2");
    webhook(db, 3, "2026-01-01T00:00:00Z", "three, deleted in Shopify", "w3");

    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    CHECK(run->status == db::run_status::running);
    const std::vector<db::listed_product> batch = {listed(1, "2026-02-01T00:00:00Z", "one new"),
                                                   listed(2, "2026-01-01T00:00:00Z", "two"),
                                                   listed(4, "2026-01-15T00:00:00Z", "four")};
    const db::drift drift = store.apply(*run, batch, model::now());
    CHECK(drift.listed == 3);
    CHECK(drift.inserted == 1);
    CHECK(drift.updated == 1);
    CHECK(drift.unchanged == 1);
    const db::run_record done = store.finish(*run, drift);
    CHECK(done.status == db::run_status::succeeded);
    CHECK(done.listed == 3);
    CHECK(done.inserted == 1);
    CHECK(done.updated == 1);
    CHECK(done.unchanged == 1);
    CHECK(done.tombstoned == 1);
    CHECK(done.finished_at.has_value());

    CHECK(title_of(db, 1) == "one new");
    CHECK(title_of(db, 4) == "four");
    CHECK(db.scalar("select count(*) from shopify.product_variants where product_id = 4") == "1");
    CHECK(is_tombstoned(db, 3));
    CHECK(title_of(db, 3) == "three, deleted in Shopify"); // a tombstone keeps its content
    CHECK_FALSE(is_tombstoned(db, 1));
    CHECK(db.scalar("select count(*) from shopify.reconcile_seen") == "0");

    SUBCASE("a late webhook older than the sweep cannot bring a swept product back") {
      webhook(db, 3, "2026-01-02T00:00:00Z", "three, late", "w3-late");
      CHECK(is_tombstoned(db, 3));
    }
    SUBCASE("a second run over the same catalog finds no drift") {
      const auto again = store.try_begin(full_run());
      REQUIRE(again);
      const auto second = store.finish(*again, store.apply(*again, batch, model::now()));
      CHECK(second.inserted == 0);
      CHECK(second.updated == 0);
      CHECK(second.unchanged == 3);
      CHECK(second.tombstoned == 0);
    }
  }

  TEST_CASE("a run repairs a category that changed while updated_at stayed as it was") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1"); // no category
    webhook(db, 2, "2026-01-01T00:00:00Z", "two", "w2");
    const auto with_category = [](std::int64_t id, const std::string& title,
                                  const std::string& category) {
      const std::string body =
          test::product_json(spec(id, "2026-01-01T00:00:00Z", title), category);
      auto mapped = model::map_product_webhook(model::product_topic::update, body);
      REQUIRE(std::holds_alternative<model::product_state>(mapped));
      return db::listed_product{std::get<model::product_state>(mapped), body};
    };
    const auto category_of = [&](std::int64_t id) {
      return db.scalar("select coalesce(category_id, '-') || ' | ' || coalesce(category_name, '-') "
                       "|| ' | ' || coalesce(category_full_name, '-') from shopify.live_products "
                       "where product_id = " +
                       std::to_string(id));
    };
    db::reconcile_store store(db.settings());
    const auto run_over = [&](const std::vector<db::listed_product>& batch) {
      const auto run = store.try_begin(full_run());
      REQUIRE(run);
      return store.finish(*run, store.apply(*run, batch, model::now()));
    };

    // By the fingerprint: the webhooks' rows hold one.
    auto done = run_over({with_category(1, "one", "aa-1-13-8"), with_category(2, "two", "")});
    CHECK(done.updated == 1);
    CHECK(done.unchanged == 1);
    CHECK(category_of(1) == "gid://shopify/TaxonomyCategory/aa-1-13-8 | Category aa-1-13-8 | "
                            "Apparel > Category aa-1-13-8");
    CHECK(category_of(2) == "- | - | -");
    done = run_over({with_category(1, "one", "aa-1-13-8"), with_category(2, "two", "")});
    CHECK(done.updated == 0);
    CHECK(done.unchanged == 2);

    // By the columns themselves, where the fingerprint is unknown.
    db.execute("update shopify.products set content_fingerprint = null");
    done = run_over({with_category(1, "one", "aa-2"), with_category(2, "two", "")});
    CHECK(done.updated == 1);
    CHECK(done.unchanged == 1);
    CHECK(category_of(1) == "gid://shopify/TaxonomyCategory/aa-2 | Category aa-2 | "
                            "Apparel > Category aa-2");
  }

  TEST_CASE("a product the database refuses is isolated and recorded and never swept") {
    test::test_database db;
    webhook(db, 2, "2026-01-01T00:00:00Z", "two", "w2");
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    auto refused = listed(2, "2026-02-01T00:00:00Z", "two, changed");
    refused.source = "{not json"; // jsonb refuses it: the batch fails as a whole
    const std::vector<db::listed_product> batch = {listed(1, "2026-01-01T00:00:00Z", "one"),
                                                   refused,
                                                   listed(3, "2026-01-01T00:00:00Z", "three")};
    const db::drift drift = store.apply(*run, batch, model::now());
    CHECK(drift.listed == 3);
    CHECK(drift.inserted == 2);
    CHECK(drift.failed == 1);
    const db::run_record done = store.finish(*run, drift);
    CHECK(done.status == db::run_status::succeeded);
    CHECK(done.failed == 1);
    CHECK(done.tombstoned == 0); // listed, though it could not be applied
    CHECK(title_of(db, 1) == "one");
    CHECK(title_of(db, 2) == "two");
    CHECK(title_of(db, 3) == "three");
    CHECK_FALSE(is_tombstoned(db, 2));
    const auto failures = db::run_failures(db.settings(), run->id, 10);
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].product_id == std::optional<std::int64_t>(2));
    CHECK(failures[0].reason.find("refused by the database") == 0);
  }

  TEST_CASE("a failed run tombstones nothing") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1");
    webhook(db, 2, "2026-01-01T00:00:00Z", "two", "w2");
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    const std::vector<db::listed_product> half = {listed(1, "2026-01-01T00:00:00Z", "one")};
    store.apply(*run, half, model::now());
    store.fail(*run, "the listing broke off");
    CHECK_FALSE(is_tombstoned(db, 2));
    CHECK(db.scalar("select status || ': ' || error from shopify.reconcile_runs") ==
          "failed: the listing broke off");
    CHECK(db.scalar("select count(*) from shopify.reconcile_seen") == "0");
    // The lock was released: the next run starts.
    CHECK(store.try_begin(full_run()).has_value());
  }

  TEST_CASE("a dry run counts the drift and writes nothing to the mirror") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1");
    webhook(db, 2, "2026-01-01T00:00:00Z", "two", "w2");
    const std::string before =
        db.scalar("select string_agg(product_id || title || coalesce(deleted_at::text, '-') || "
                  "version_updated_at, ',' order by product_id) from shopify.products");
    db::reconcile_store store(db.settings());
    auto request = full_run();
    request.dry_run = true;
    const auto run = store.try_begin(request);
    REQUIRE(run);
    const std::vector<db::listed_product> batch = {listed(1, "2026-03-01T00:00:00Z", "one new"),
                                                   listed(5, "2026-03-01T00:00:00Z", "five")};
    const auto done = store.finish(*run, store.apply(*run, batch, model::now()));
    CHECK(done.dry_run);
    CHECK(done.inserted == 1);
    CHECK(done.updated == 1);
    CHECK(done.tombstoned == 1);
    CHECK(db.scalar("select string_agg(product_id || title || coalesce(deleted_at::text, '-') || "
                    "version_updated_at, ',' order by product_id) from shopify.products") ==
          before);
    CHECK(db.scalar("select count(*) from shopify.product_variants") == "2");
  }

  TEST_CASE("webhooks during a run are neither overwritten nor swept") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1");
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    // During the run: product 1 changes and product 7 is created, both by
    // webhook; the listing saw the older 1 and not 7.
    webhook(db, 1, "2026-05-01T00:00:00Z", "one, newer by webhook", "w1-new");
    webhook(db, 7, "2026-05-01T00:00:00Z", "seven, created during the run", "w7");
    const std::vector<db::listed_product> batch = {listed(1, "2026-01-01T00:00:00Z", "one")};
    const auto drift = store.apply(*run, batch, model::now());
    CHECK(drift.unchanged == 1);
    const auto done = store.finish(*run, drift);
    CHECK(done.tombstoned == 0);
    CHECK(title_of(db, 1) == "one, newer by webhook");
    CHECK_FALSE(is_tombstoned(db, 7));
  }

  TEST_CASE("one run per shop at a time across sessions") {
    test::test_database db;
    auto first = std::make_unique<db::reconcile_store>(db.settings());
    db::reconcile_store second(db.settings());
    const auto run = first->try_begin(full_run());
    REQUIRE(run);
    CHECK_FALSE(second.try_begin(full_run()).has_value());
    CHECK(db::running_run(db.settings(), shop) == std::optional<std::int64_t>(run->id));
    auto other_shop = full_run();
    other_shop.shop = "other.myshopify.com";
    CHECK(second.try_begin(other_shop).has_value()); // shops do not wait for each other

    SUBCASE("a session that dies mid-run releases the shop, and its run ends interrupted") {
      first.reset();
      db::reconcile_store third(db.settings());
      // The server notices the closed connection at once, but allow it a moment.
      std::optional<db::run_record> next;
      for (int i = 0; i < 50 && !next; ++i) {
        next = third.try_begin(full_run());
        if (!next) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      REQUIRE(next);
      const auto old = db::find_run(db.settings(), run->id);
      REQUIRE(old);
      CHECK(old->status == db::run_status::interrupted);
    }
    SUBCASE("the runs are listed newest first") {
      const auto runs = db::list_runs(db.settings(), 10);
      REQUIRE(runs.size() == 2);
      CHECK(runs[0].shop == "other.myshopify.com");
      CHECK(runs[1].id == run->id);
    }
  }

  TEST_CASE("refresh requests are claimed once and completed") {
    test::test_database db;
    db::delivery_store deliveries(db.settings());
    const auto stub =
        test::item_from_body("products/update", "{\"id\":42}", "stub-1", std::nullopt);
    REQUIRE(deliveries.apply(std::span(&stub, 1))[0] == model::apply_outcome::refresh_requested);

    db::reconcile_store one(db.settings());
    db::reconcile_store two(db.settings());
    const auto claimed = one.claim_refreshes(10);
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].product_id == 42);
    CHECK(two.claim_refreshes(10).empty()); // leased to the first

    one.apply_single(shop, listed(42, "2026-04-01T00:00:00Z", "fetched whole"), model::now());
    one.complete_refresh(claimed[0]);
    CHECK(title_of(db, 42) == "fetched whole");
    CHECK(db.scalar("select count(*) from shopify.product_refresh_requests") == "0");

    SUBCASE("a failed fetch is tried again later") {
      REQUIRE(deliveries.apply(std::span(&stub, 1))[0] == model::apply_outcome::duplicate);
      const auto again =
          test::item_from_body("products/update", "{\"id\":43}", "stub-2", std::nullopt);
      deliveries.apply(std::span(&again, 1));
      const auto next = one.claim_refreshes(10);
      REQUIRE(next.size() == 1);
      one.retry_refresh(next[0], "Admin API down");
      CHECK(db.scalar("select last_error from shopify.product_refresh_requests") ==
            "Admin API down");
      CHECK(db.scalar("select not_before > now() from shopify.product_refresh_requests") == "t");
      CHECK(two.claim_refreshes(10).empty());
    }
  }

  TEST_CASE("a run no longer marked running sweeps nothing") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1");
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    // What another replica does once it took the shop from a session it saw die.
    db.execute("update shopify.reconcile_runs set status = 'interrupted' where id = " +
               std::to_string(run->id));
    CHECK_THROWS_WITH_AS(store.finish(*run, db::drift{}), doctest::Contains("not running"),
                         std::runtime_error);
    CHECK_FALSE(is_tombstoned(db, 1));
    CHECK(db.scalar("select status from shopify.reconcile_runs") == "interrupted");
  }

  TEST_CASE("a run begun while another is being begun finds that run, never the gap between its "
            "lock and its row") {
    test::test_database db;
    // Another replica in the middle of beginning a run: the shop's lock is
    // taken and the run's row written, but not yet committed.
    pqxx::connection other(db.url());
    pqxx::work beginning(other);
    beginning.exec_params(
        "select pg_advisory_xact_lock(hashtext('shopmirror.reconcile_begin'), hashtext($1))", shop);
    beginning.exec_params(
        "select pg_try_advisory_lock(hashtext('shopmirror.reconcile'), hashtext($1))", shop);
    const auto id = beginning
                        .exec_params1("insert into shopify.reconcile_runs (shop_domain, trigger, "
                                      "mode, dry_run, max_sweep, started_at) values ($1, 'api', "
                                      "'bulk', false, 0.1, now()) returning id",
                                      shop)[0]
                        .as<std::int64_t>();
    db::reconcile_store store(db.settings());
    auto attempt = std::async(std::launch::async, [&] { return store.try_begin(full_run()); });
    // This one waits for the other's beginning to end (not for a while).
    bool waiting = false;
    for (int i = 0; i < 500 && !waiting; ++i) {
      REQUIRE_MESSAGE(attempt.wait_for(std::chrono::milliseconds(10)) ==
                          std::future_status::timeout,
                      "it answered without waiting for the other's beginning");
      waiting = db.scalar("select count(*) from pg_locks where locktype = 'advisory' and "
                          "not granted and database = (select oid from pg_database where "
                          "datname = current_database())") == "1";
    }
    REQUIRE(waiting);
    beginning.commit();
    CHECK_FALSE(attempt.get().has_value());
    // What the trigger then reads: the other's run, committed by now.
    CHECK(db::running_run(db.settings(), shop) == id);
  }

  TEST_CASE("a sweep the database will not confirm is refused with its reason; an outage is a "
            "database_error") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1");
    db::reconcile_store store(db.settings());
    CHECK_THROWS_WITH_AS(store.confirm_sweep(999), "there is no reconcile run 999",
                         db::sweep_refused);
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    const std::vector<db::listed_product> all = {listed(1, "2026-01-01T00:00:00Z", "one")};
    store.apply(*run, all, model::now());
    store.finish(*run, db::drift{});
    // A run that ended succeeded has no sweep to confirm: the function's own
    // refusal, with its words.
    db::reconcile_store other(db.settings());
    CHECK_THROWS_WITH_AS(other.confirm_sweep(run->id), doctest::Contains("not held"),
                         db::sweep_refused);
    // Not a refusal: the database could not be asked.
    db::db_settings unreachable = db.settings();
    unreachable.url = "host=/nonexistent port=1 dbname=x connect_timeout=1";
    db::reconcile_store gone(unreachable);
    try {
      (void)gone.confirm_sweep(run->id);
      FAIL("confirmed a sweep without a database");
    } catch (const db::database_error& e) {
      CHECK(e.retry_later());
    }
  }

  TEST_CASE("a run whose lock connection died stops, sweeps nothing, and leaves the shop free") {
    test::test_database db;
    webhook(db, 1, "2026-01-01T00:00:00Z", "one", "w1");
    webhook(db, 2, "2026-01-01T00:00:00Z", "two", "w2");
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);
    store.check_lock(); // alive: no complaint
    const std::vector<db::listed_product> half = {listed(1, "2026-01-01T00:00:00Z", "one")};
    store.apply(*run, half, model::now());
    // What a failover or a dropped connection does to the session that holds
    // the shop's advisory lock. Only this database's reconcile lock: tests run
    // side by side on one cluster, and their migrations hold advisory locks too.
    db.execute("select pg_terminate_backend(pid) from pg_locks "
               "where locktype = 'advisory' and granted and pid <> pg_backend_pid() "
               "and database = (select oid from pg_database where datname = current_database()) "
               "and classid::int = hashtext('shopmirror.reconcile')");
    CHECK_THROWS_AS(store.check_lock(), std::runtime_error);
    // Even once the session has quietly reconnected, it is not the holder.
    CHECK_THROWS_WITH_AS(store.finish(*run, db::drift{}), doctest::Contains("lock was lost"),
                         std::runtime_error);
    CHECK_FALSE(is_tombstoned(db, 2));
    store.fail(*run, "the lock connection died");
    // Another replica takes the shop at once.
    db::reconcile_store other(db.settings());
    CHECK(other.try_begin(full_run()).has_value());
  }

  TEST_CASE("a store failure carries its SQLSTATE and whether a retry may pass") {
    test::test_database db;
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);

    SUBCASE("a refusal that would recur is not to be retried") {
      // A schema this binary does not expect: every try fails the same way.
      db.execute("alter table shopify.reconcile_runs rename column status to run_status");
      for (const auto& read :
           std::vector<std::function<void()>>{[&] { db::list_runs(db.settings(), 10); },
                                              [&] { db::find_run(db.settings(), run->id); },
                                              [&] { db::running_run(db.settings(), shop); },
                                              [&] { store.finish(*run, db::drift{}); }}) {
        try {
          read();
          FAIL("the read did not fail");
        } catch (const db::database_error& e) {
          CHECK(e.sqlstate() == "42703"); // undefined_column
          CHECK(e.kind() == db::failure_kind::bug);
          CHECK_FALSE(e.retry_later());
        }
      }
    }
    SUBCASE("a database that cannot be reached is to be retried later") {
      db::db_settings gone = db.settings();
      gone.url = "host=/nonexistent-socket-dir port=1 user=nobody dbname=none";
      try {
        db::list_runs(gone, 10);
        FAIL("the read did not fail");
      } catch (const db::database_error& e) {
        CHECK(e.kind() == db::failure_kind::connection_lost);
        CHECK(e.retry_later());
        CHECK(std::string(e.what()).find("listing reconcile runs: ") == 0);
      }
    }
  }

  TEST_CASE("the run reads give up at the statement timeout instead of waiting on a lock") {
    test::test_database db;
    db::reconcile_store store(db.settings());
    const auto run = store.try_begin(full_run());
    REQUIRE(run);

    // Another session holds the tables the reads need. It lets go by itself
    // after 5 s, so a read without a statement timeout waits that out and
    // succeeds (and the test fails) instead of hanging.
    pqxx::connection holder(db.url());
    pqxx::work hold(holder);
    hold.exec("set local idle_in_transaction_session_timeout = '5s'");
    hold.exec("lock table shopify.reconcile_runs, shopify.reconcile_failures, "
              "shopify.product_refresh_requests in access exclusive mode");

    db::db_settings settings = db.settings();
    settings.statement_timeout = std::chrono::milliseconds(300);
    settings.lock_timeout =
        std::chrono::minutes(1); // so that the statement timeout is what ends it
    for (const auto& read : std::vector<std::function<void()>>{
             [&] { db::list_runs(settings, 10); }, [&] { db::find_run(settings, run->id); },
             [&] { db::running_run(settings, shop); },
             [&] { db::run_failures(settings, run->id, 10); },
             [&] { db::failing_refreshes(settings, 10); }}) {
      try {
        read();
        FAIL("the read waited for the lock");
      } catch (const db::database_error& e) {
        CHECK(e.sqlstate() == "57014"); // query_canceled: the statement timeout
        CHECK(e.kind() == db::failure_kind::busy);
        CHECK(e.retry_later());
      }
    }
  }

} // TEST_SUITE
