// The webhook subscriptions the mirror depends on, end to end: the real
// binary against the stand-in's subscriptions
// (tests/support/subscription_registry.hpp).

#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace shopmirror;
using namespace std::chrono_literals;
using test::metric;

namespace {

const std::string address = "https://mirror.example.com/webhooks/shopify";

struct command_output {
  int status = -1;
  std::string output;
};

command_output subscriptions(const test::admin_api_stand_in& shopify, const test::test_database& db,
                             std::vector<std::string> args) {
  args.insert(args.begin(), {test::shopmirror_binary(), "subscriptions"});
  test::environment env = test::admin_env(shopify, db);
  env.emplace_back("SHOPMIRROR_PUBLIC_URL", address);
  test::child_process command(args, env);
  const auto status = command.wait(60s);
  REQUIRE(status);
  return {*status, command.output()};
}

bool has_line(const std::string& output, const std::string& line) {
  return output.find(line + "\n") != std::string::npos ||
         output.find(line + "\t") != std::string::npos;
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("subscriptions sync makes a shop's subscriptions right and check sees one removed") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    auto& registry = shopify.subscriptions();
    const std::string shop = test::reconcile_shop;
    // PRODUCTS_CREATE twice at our address, PRODUCTS_UPDATE trimmed,
    // PRODUCTS_DELETE missing; another tool's subscription elsewhere.
    registry.add({"", "PRODUCTS_CREATE", address, "JSON", {}, ""});
    registry.add({"", "PRODUCTS_CREATE", address, "JSON", {}, ""});
    registry.add({"", "PRODUCTS_UPDATE", address, "JSON", {"id", "title"}, ""});
    const std::string elsewhere =
        registry.add({"", "PRODUCTS_UPDATE", "https://crm.example.com/hooks", "JSON", {"id"}, ""});

    auto check = subscriptions(shopify, db, {"check"});
    CHECK(check.status == 1);
    CHECK(has_line(check.output, shop + "\tPRODUCTS_CREATE\tduplicate"));
    CHECK(has_line(check.output, shop + "\tPRODUCTS_UPDATE\twrong"));
    CHECK(has_line(check.output, shop + "\tPRODUCTS_DELETE\tmissing"));
    CHECK(check.output.find("other address (left alone)\t" + elsewhere) != std::string::npos);

    const auto dry = subscriptions(shopify, db, {"sync", "--dry-run"});
    CHECK(dry.output.find("would create PRODUCTS_DELETE at " + address) != std::string::npos);
    CHECK(registry.mutations() == 0);

    const auto synced = subscriptions(shopify, db, {"sync"});
    CHECK_MESSAGE(synced.status == 0, synced.output);
    for (const std::string topic : {"PRODUCTS_CREATE", "PRODUCTS_UPDATE", "PRODUCTS_DELETE"}) {
      CHECK(has_line(synced.output, shop + "\t" + topic + "\tok"));
      int ours = 0;
      for (const auto& s : registry.list()) {
        if (s.topic == topic && s.uri == address) {
          ++ours;
          CHECK(s.format == "JSON");
          CHECK(s.include_fields.empty());
        }
      }
      CHECK(ours == 1);
    }
    // The other address's subscription is as it was.
    bool untouched = false;
    for (const auto& s : registry.list()) {
      untouched =
          untouched || (s.id == elsewhere && s.include_fields == std::vector<std::string>{"id"});
    }
    CHECK(untouched);
    CHECK(subscriptions(shopify, db, {"check"}).status == 0);
    const int mutations = registry.mutations();
    CHECK(subscriptions(shopify, db, {"sync"}).status == 0);
    CHECK(registry.mutations() == mutations); // nothing left to do

    // Shopify removed one after failed deliveries: check says so.
    for (const auto& s : registry.list()) {
      if (s.topic == "PRODUCTS_DELETE") {
        registry.remove(s.id);
      }
    }
    check = subscriptions(shopify, db, {"check"});
    CHECK(check.status == 1);
    CHECK(has_line(check.output, shop + "\tPRODUCTS_DELETE\tmissing"));
    CHECK(subscriptions(shopify, db, {"sync"}).status == 0);

    // Payloads at another API version than the pinned one: told, not "fixed".
    registry.set_api_version("2026-07");
    check = subscriptions(shopify, db, {"check"});
    CHECK(check.status == 1);
    CHECK(check.output.find("payloads at API version 2026-07, not 2026-10") != std::string::npos);
  }

  TEST_CASE("serve checks the subscriptions at start and then on a schedule - on /metrics") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    test::environment env = test::admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_PUBLIC_URL", address);
    env.emplace_back("SHOPMIRROR_SUBSCRIPTION_CHECK_EVERY", "1s");
    test::service_process service(db.url(), {test::reconcile_secret}, env);
    auto client = test::local_client(service.port());
    const std::string series =
        "shopmirror_webhook_subscription_state{shop=\"test-shop.myshopify.com\","
        "topic=\"PRODUCTS_DELETE\",state=\"";
    const auto wait_for = [&](const std::string& state) {
      const auto until = std::chrono::steady_clock::now() + 20s;
      while (metric(client.request("GET", "/metrics", {}).body, series + state + "\"}") != "1") {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, "no " << state << " on /metrics");
        std::this_thread::sleep_for(100ms);
      }
    };
    wait_for("missing");
    CHECK(test::logged(service.process().output(), "webhook_subscription"));
    CHECK(subscriptions(shopify, db, {"sync"}).status == 0);
    wait_for("ok");
    CHECK(metric(client.request("GET", "/metrics", {}).body, series + "missing\"}") == "0");
  }

} // TEST_SUITE
