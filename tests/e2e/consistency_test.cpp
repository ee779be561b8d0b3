// The consistency property: for many random histories delivered the way
// Shopify delivers them (some dropped for good, some twice, in any order),
// the mirror holds exactly the newest state of what was delivered; and after
// a full reconcile against the Admin API holding Shopify's final truth, it
// holds exactly that truth, every typed column and every variant.

#include "model/webhook_payload.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/shopify_simulator.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace shopmirror;

namespace {

const std::string secret = "consistency-secret";

/// Shopify's truth as its Admin API lists it: live products only.
void load_catalog(test::admin_api_stand_in& shopify, const test::history& h) {
  shopify.clear_catalog();
  for (const auto& [id, p] : h.final_truth) {
    if (p.deleted) {
      continue;
    }
    auto mapped = model::map_product_webhook(model::product_topic::update, test::product_body(p));
    REQUIRE(std::holds_alternative<model::product_state>(mapped));
    shopify.put_product(std::get<model::product_state>(mapped));
  }
}

/// What the mirror must hold after a full reconcile: every live product as
/// Shopify has it; every deleted one that ever reached the mirror as a
/// tombstone (its content is whatever last arrived: Shopify no longer has
/// it to give); deleted ones that never reached it, nothing.
std::map<std::int64_t, test::product_truth> after_reconcile(const test::history& h) {
  std::set<std::int64_t> reached;
  for (const auto& ev : h.events) {
    if (!ev.dropped) {
      reached.insert(ev.after.id);
    }
  }
  std::map<std::int64_t, test::product_truth> expected;
  for (auto [id, p] : h.final_truth) {
    if (p.deleted) {
      if (reached.count(id) == 0) {
        continue;
      }
      p.title.clear(); // content unknown: only the tombstone is checked
    }
    expected[id] = p;
  }
  return expected;
}

} // namespace

TEST_SUITE("e2e") {

TEST_CASE("for many seeds the mirror is exactly what was delivered and after a reconcile exactly the truth") {
  test::test_database db;
  test::service_process service(db.url(), {secret});
  test::admin_api_stand_in shopify;
  int seeds_with_drift = 0;
  std::size_t dropped_total = 0;
  std::size_t events_total = 0;
  constexpr int seeds = 12;
  for (int seed = 1; seed <= seeds; ++seed) {
    CAPTURE(seed);
    test::history_options options;
    options.seed = static_cast<std::uint64_t>(seed) * 7919;
    options.shop = "seed-" + std::to_string(seed) + ".myshopify.com";
    options.products = 15;
    options.events = 150;
    options.drop_share = 0.12;
    options.duplicate_share = 0.15;
    options.delete_share = 0.1;
    const auto h = test::make_history(options);
    events_total += h.events.size();
    for (const auto& ev : h.events) {
      dropped_total += ev.dropped ? 1 : 0;
    }

    test::delivery_simulator simulator(h, secret);
    simulator.deliver([&] { return test::local_client(service.port()); }, 4, 10,
                      std::chrono::milliseconds(20));
    // Every event not dropped was acknowledged in the end (retries
    // included), so what the mirror must hold is the truth minus exactly
    // what was dropped.
    CHECK(simulator.undelivered().empty());
    const auto report = test::check_deliveries(h, simulator.attempts(), db);
    INFO(report.summary());
    CHECK(report.ok());
    const bool drifted = !test::compare_mirror(after_reconcile(h), options.shop, db).empty();
    seeds_with_drift += drifted ? 1 : 0;

    // A full reconcile against Shopify's final truth repairs the rest.
    load_catalog(shopify, h);
    shopify.set_shop_domain(options.shop);
    const test::environment env = {
        {"SHOPMIRROR_DATABASE_URL", db.url()},
        {"SHOPMIRROR_SHOP", options.shop},
        {"SHOPMIRROR_ADMIN_TOKEN", shopify.access_token()},
        {"SHOPMIRROR_ADMIN_API_URL", shopify.base_url()},
        {"SHOPMIRROR_RECONCILE_MODE", seed % 2 == 0 ? "paginated" : "bulk"}};
    test::child_process reconcile({test::shopmirror_binary(), "reconcile"}, env);
    const auto status = reconcile.wait(std::chrono::seconds(60));
    REQUIRE(status);
    if (reconcile.output().find("\"status\":\"held\"") != std::string::npos) {
      // Every product was deleted, or most: the sweep is held, and an
      // operator who knows the catalog is right confirms it.
      const auto id = db.scalar("select max(id) from shopify.reconcile_runs where status = 'held'");
      test::child_process confirm({test::shopmirror_binary(), "reconcile", "--confirm-sweep", id},
                                  env);
      const auto confirmed = confirm.wait(std::chrono::seconds(60));
      REQUIRE(confirmed);
      CHECK_MESSAGE(*confirmed == 0, confirm.output());
    } else {
      CHECK_MESSAGE(*status == 0, reconcile.output());
    }
    const auto wrong = test::compare_mirror(after_reconcile(h), options.shop, db);
    for (const auto& line : wrong) {
      INFO(line);
    }
    CHECK_MESSAGE(wrong.empty(), (wrong.empty() ? "" : wrong.front()));
  }
  MESSAGE(events_total << " events over " << seeds << " seeds, " << dropped_total
                       << " dropped; " << seeds_with_drift << " seeds drifted before reconcile");
  // The property was put to work: drops happened and left drift to repair.
  CHECK(dropped_total > 0);
  CHECK(seeds_with_drift >= seeds / 2);
}

} // TEST_SUITE
