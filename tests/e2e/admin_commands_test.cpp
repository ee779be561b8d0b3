// The maintenance commands against a real database: prune, dead letters.

#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

using namespace shopmirror;

namespace {

// Runs `shopmirror <args>` against the database; returns (status, output).
std::pair<int, std::string> run_command(const test::test_database& db,
                                        std::vector<std::string> args,
                                        const test::environment& extra = {}) {
  args.insert(args.begin(), test::shopmirror_binary());
  test::environment env = {{"SHOPMIRROR_DATABASE_URL", db.url()}};
  env.insert(env.end(), extra.begin(), extra.end());
  test::child_process process(args, env);
  const auto status = process.wait(std::chrono::seconds(60));
  REQUIRE(status);
  return {*status, process.output()};
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("prune deletes delivery-log rows past the retention and keeps the rest") {
    test::test_database db;
    db.execute(
        "insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, received_at, "
        "outcome) select 's.myshopify.com', 'old-' || g, 'products/update', "
        "now() - interval '10 days', 'applied' from generate_series(1, 25000) g");
    db.execute(
        "insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, received_at, "
        "outcome) select 's.myshopify.com', 'new-' || g, 'products/update', "
        "now() - interval '6 days', 'applied' from generate_series(1, 10) g");
    const auto [status, output] = run_command(db, {"prune"});
    CHECK(status == 0);
    CHECK(output.find("pruned 25000") != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "10");

    const auto [status2, output2] =
        run_command(db, {"prune"}, {{"SHOPMIRROR_DELIVERY_RETENTION", "5d"}});
    CHECK(status2 == 0);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");

    const auto [bad, message] =
        run_command(db, {"prune"}, {{"SHOPMIRROR_DELIVERY_RETENTION", "a week"}});
    CHECK(bad == 2);
    CHECK(message.find("SHOPMIRROR_DELIVERY_RETENTION") != std::string::npos);
  }

  TEST_CASE("the service prunes the delivery log by itself") {
    test::test_database db;
    db.execute(
        "insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, received_at, "
        "outcome) select 's.myshopify.com', 'old-' || g, 'products/update', "
        "now() - interval '8 days', 'applied' from generate_series(1, 500) g");
    db.execute(
        "insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, received_at, "
        "outcome) select 's.myshopify.com', 'recent-' || g, 'products/update', "
        "now() - interval '6 days', 'applied' from generate_series(1, 7) g");
    test::service_process service(db.url(), {"prune-secret"}, {{"SHOPMIRROR_PRUNE_EVERY", "1s"}});
    const auto line =
        service.process().wait_for_log({{"event", "deliveries_pruned"}}, std::chrono::seconds(10));
    REQUIRE_MESSAGE(line, service.process().output());
    CHECK(test::field(*line, "deleted") == "500");
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "7");
  }

  TEST_CASE("dead letters are listed and replayed through the apply path once") {
    test::test_database db;
    // Kept by an earlier version that refused a payload it now accepts, and
    // one that is still garbage.
    const std::string good = test::product_json(
        {77, "Recovered", "2026-09-01T00:00:00Z", "", "active", {{770, "3.00", "R", 1, 1}}});
    db.execute("insert into shopify.dead_letters (shop_domain, webhook_id, topic, received_at, "
               "reason, headers, body) values "
               "('s.myshopify.com', 'wh-good', 'products/update', now(), 'old rule', "
               "'{\"X-Shopify-Triggered-At\": \"2026-09-01T00:00:01.000000Z\"}', convert_to('" +
               good +
               "', 'UTF8')), "
               "('s.myshopify.com', 'wh-bad', 'products/update', now(), 'malformed', '{}', "
               "'\\x7b7b'::bytea)");

    const auto [list_status, listing] = run_command(db, {"dead-letters", "list"});
    CHECK(list_status == 0);
    CHECK(listing.find("wh-good") != std::string::npos);
    CHECK(listing.find("wh-bad") != std::string::npos);

    const auto [replay_status, replayed] = run_command(db, {"dead-letters", "replay"});
    CHECK(replay_status == 1); // one is still a dead letter
    CHECK(replayed.find("applied") != std::string::npos);
    CHECK(db.scalar("select title from shopify.live_products where product_id = 77") ==
          "Recovered");
    CHECK(db.scalar("select version_observed_at from shopify.products where product_id = 77") ==
          "2026-09-01 00:00:01+00"); // the original observation, not the replay's time
    CHECK(
        db.scalar("select replay_outcome from shopify.dead_letters where webhook_id = 'wh-good'") ==
        "applied");
    CHECK(db.scalar("select replay_outcome like 'dead_letter: malformed JSON%' from "
                    "shopify.dead_letters where webhook_id = 'wh-bad'") == "t");

    // Replayed again by id: the delivery log makes it a duplicate.
    const std::string id =
        db.scalar("select id from shopify.dead_letters where webhook_id = 'wh-good'");
    const auto [again_status, again] = run_command(db, {"dead-letters", "replay", id});
    CHECK(again_status == 0);
    CHECK(again.find("duplicate") != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.products") == "1");
  }
}
