// The shops' status as read from a real PostgreSQL: every field, one shop
// alone, an unreachable database, and the plans of the delivery-log reads.

#include "db/status_store.hpp"
#include "tests/support/status_rows.hpp"
#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>

using namespace shopmirror;

namespace {

const db::shop_status& find(const db::status_report& report, const std::string& shop) {
  for (const auto& s : report.shops) {
    if (s.shop == shop) {
      return s;
    }
  }
  FAIL("no status for " << shop);
  throw std::logic_error("unreachable");
}

std::int64_t seconds_between(model::timestamp earlier, model::timestamp later) {
  return (later.micros_since_epoch - earlier.micros_since_epoch) / 1'000'000;
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& line : lines) {
    if (line.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("the status holds each shop's deliveries runs backlogs and credentials") {
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    const std::string configured_only = "configured-only.myshopify.com";
    const auto reading = db::read_status(db.settings(), {configured_only, shops.busy});
    REQUIRE_MESSAGE(reading.failure == db::status_failure::none, reading.error);
    const auto& report = reading.report;

    // Every shop the database records, and the configured one that has nothing.
    std::vector<std::string> names;
    for (const auto& s : report.shops) {
      names.push_back(s.shop);
    }
    CHECK(names == std::vector<std::string>{shops.busy, configured_only, shops.quiet});

    const auto& busy = find(report, shops.busy);
    CHECK(busy.deliveries_last_hour ==
          std::map<std::string, std::int64_t>{{"applied", 3}, {"dead_letter", 1}, {"stale", 1}});
    REQUIRE(busy.last_delivery_at);
    CHECK(seconds_between(*busy.last_delivery_at, report.as_of) >= 120);
    CHECK(seconds_between(*busy.last_delivery_at, report.as_of) < 180);
    REQUIRE(busy.runs.size() == 2);
    CHECK(busy.runs[0].status == db::run_status::held); // newest first
    CHECK(busy.runs[0].held_sweep == 40);
    CHECK(busy.runs[0].listed == 60);
    CHECK(busy.runs[1].status == db::run_status::succeeded);
    CHECK(busy.runs[1].inserted == 2);
    CHECK(busy.runs[1].updated == 3);
    CHECK(busy.runs[1].unchanged == 95);
    REQUIRE(busy.held_runs().size() == 1);
    CHECK(busy.held_runs()[0]->id == busy.runs[0].id);
    CHECK(busy.dead_letters_pending == 2); // the replayed one is not
    REQUIRE(busy.oldest_dead_letter_at);
    CHECK(seconds_between(*busy.oldest_dead_letter_at, report.as_of) >= 86400);
    CHECK(busy.refreshes_due == 1);
    CHECK(busy.refreshes_failing == 1);
    REQUIRE(busy.credentials);
    CHECK(busy.credentials->kind == "expiring_offline");
    CHECK(busy.credentials->state == "refused");
    CHECK(busy.credentials->last_error == "invalid_grant");
    CHECK(busy.credentials->access_expires_at);
    CHECK(busy.credentials->refresh_expires_at);
    CHECK(busy.credentials->renewed_at);
    CHECK_FALSE(busy.uninstalled_at);
    const auto busy_attention = busy.attention();
    CHECK(mentions(busy_attention, "reconcile run " + std::to_string(busy.runs[0].id) +
                                       " held a sweep of 40 products"));
    CHECK(mentions(busy_attention, "2 dead letters wait"));
    CHECK(mentions(busy_attention, "1 product refresh is failing"));
    CHECK(mentions(busy_attention, "credentials were refused: invalid_grant"));

    const auto& quiet = find(report, shops.quiet);
    CHECK(quiet.deliveries_last_hour.empty());
    REQUIRE(quiet.last_delivery_at); // found by the day's look-back
    CHECK(seconds_between(*quiet.last_delivery_at, report.as_of) >= 5 * 3600);
    CHECK(seconds_between(*quiet.last_delivery_at, report.as_of) < 5 * 3600 + 60);
    REQUIRE(quiet.runs.size() == 1);
    CHECK(quiet.runs[0].status == db::run_status::failed);
    CHECK(quiet.runs[0].error == shops.failed_error);
    CHECK(quiet.uninstalled_at);
    CHECK_FALSE(quiet.credentials);
    CHECK(mentions(quiet.attention(), "the last reconcile run (" +
                                          std::to_string(quiet.runs[0].id) +
                                          ") failed: " + shops.failed_error));
    CHECK(mentions(quiet.attention(), "uninstalled"));

    // Configured, nothing recorded: shown, healthy, no delivery in the look-back.
    const auto& empty = find(report, configured_only);
    CHECK(empty.deliveries_last_hour.empty());
    CHECK_FALSE(empty.last_delivery_at);
    CHECK(empty.runs.empty());
    CHECK(empty.attention().empty());

    // The silent shop's one delivery is older than the look-back, and it has
    // nothing else: it is not listed unless configured.
    const auto silent = db::read_status(db.settings(), {shops.silent});
    REQUIRE(silent.failure == db::status_failure::none);
    CHECK_FALSE(find(silent.report, shops.silent).last_delivery_at);
  }

  TEST_CASE("the status of one shop leaves the others out") {
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    const auto reading = db::read_status(db.settings(), {}, shops.quiet);
    REQUIRE_MESSAGE(reading.failure == db::status_failure::none, reading.error);
    REQUIRE(reading.report.shops.size() == 1);
    CHECK(reading.report.shops[0].shop == shops.quiet);
    CHECK(reading.report.shops[0].runs.size() == 1);
  }

  TEST_CASE("a role that may not read the credentials still reads the status") {
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    const std::string role = "status_reader_" + db.name();
    // What deploy/postgres/roles.sql gives a reader: the mirror, not schema shopmirror.
    db.execute("create role " + role + " login; grant usage on schema shopify to " + role +
               "; grant select on all tables in schema shopify to " + role);
    db::db_settings settings = db.settings();
    settings.url += " user=" + role; // libpq: the last value of a keyword wins
    const auto reading = db::read_status(settings, {});
    db.execute("drop owned by " + role + "; drop role " + role);
    REQUIRE_MESSAGE(reading.failure == db::status_failure::none, reading.error);
    CHECK_FALSE(reading.report.credentials_readable);
    CHECK(find(reading.report, shops.busy).runs.size() == 2);
    CHECK_FALSE(find(reading.report, shops.busy).credentials);
    CHECK(db::read_status(db.settings(), {}).report.credentials_readable);
  }

  TEST_CASE("the status of an unreachable database is unavailable, not an error") {
    db::db_settings settings;
    // A port nothing listens on: connection refused at once.
    settings.url = "host=127.0.0.1 port=1 dbname=none user=none";
    const auto reading = db::read_status(settings, {"a.myshopify.com"});
    CHECK(reading.failure == db::status_failure::unavailable);
    CHECK_FALSE(reading.error.empty());
  }

  TEST_CASE("the status reads the delivery log through its index") {
    test::test_database db;
    // A week of deliveries, in arrival order as the service writes them.
    db.execute("insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, "
               "received_at, outcome) select 's' || (g % 20) || '.myshopify.com', 'w' || g, "
               "'products/update', now() - interval '7 days' + g * interval '2 seconds', "
               "'applied' from generate_series(1, 300000) g");
    // Summarized, as autovacuum leaves a log that has been written a while.
    db.execute("vacuum analyze shopify.webhook_deliveries");
    for (const auto& [name, sql] : db::status_delivery_log_statements()) {
      CAPTURE(name);
      // One connection: the plan PostgreSQL makes for the statement as sent.
      for (const std::string shop : {"null", "'s3.myshopify.com'"}) {
        std::string plan;
        for (const auto& row : db.query("prepare status_plan (text, int) as " + sql +
                                        "; explain execute status_plan (" + shop + ", 24)")) {
          plan += row[0].value_or("") + "\n";
        }
        CAPTURE(plan);
        CHECK(plan.find("Index Scan on webhook_deliveries_received") != std::string::npos);
        CHECK(plan.find("Seq Scan") == std::string::npos);
      }
    }
  }

} // TEST_SUITE
