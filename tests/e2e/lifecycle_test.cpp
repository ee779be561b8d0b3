// Start, log and stop: what an operator relies on around the requests.

#include "crypto/hmac.hpp"
#include "model/webhook_payload.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace shopmirror;

TEST_SUITE("e2e") {

  TEST_CASE("SIGTERM under load: every request answered or refused and every 200 durable") {
    test::test_database db;
    const std::string secret = "drain-secret";
    test::service_process service(db.url(), {secret}, {{"SHOPMIRROR_DRAIN_TIMEOUT_MS", "8000"}});

    std::mutex mutex;
    std::set<std::string> acknowledged;
    std::atomic<int> answered{0}, refused{0}, other{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < 8; ++t) {
      senders.emplace_back([&, t] {
        auto client = test::local_client(service.port(), std::chrono::seconds(10));
        for (int n = 0; !stop; ++n) {
          test::signed_delivery d;
          d.secret = secret;
          d.webhook_id = "drain-" + std::to_string(t) + "-" + std::to_string(n);
          d.body = test::product_json({t * 100000 + n,
                                       "P",
                                       "2026-01-01T00:00:00Z",
                                       "",
                                       "active",
                                       {{(t * 100000 + n) * 10, "1.00", "", 1, 1}}});
          try {
            const auto r = test::post_webhook(client, d);
            ++answered;
            if (r.status == 200) {
              std::lock_guard lock(mutex);
              acknowledged.insert(d.webhook_id);
            } else {
              ++other;
            }
          } catch (const net::transport_error&) {
            ++refused; // the server stopped accepting: Shopify would retry
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    }
    // Under load first: wait for the first answers (a sanitizer build is
    // several times slower to get there), then a little longer.
    const auto loaded_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (answered.load() <= 50 && std::chrono::steady_clock::now() < loaded_by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const int before = answered.load();
    service.process().send_signal(SIGTERM);
    const auto status = service.process().wait(std::chrono::seconds(15));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
    for (auto& s : senders) {
      s.join();
    }
    CHECK(status == 0);
    CHECK(before > 50);
    CHECK(refused > 0);
    CHECK(other == 0);
    // Every acknowledged delivery is in the database.
    std::set<std::string> stored;
    for (const auto& row : db.query("select webhook_id from shopify.webhook_deliveries")) {
      stored.insert(*row[0]);
    }
    for (const auto& id : acknowledged) {
      CHECK_MESSAGE(stored.count(id) == 1, id);
    }
    CHECK(test::logged(service.process().output(), "drained"));
  }

  TEST_CASE("at info a burst is counted, not logged line by line; stale drops one by one, capped") {
    test::test_database db;
    const std::string secret = "summary-secret";
    test::service_process service(db.url(), {secret});
    auto client = test::local_client(service.port());
    const auto deliver = [&](const std::string& id, int product, const std::string& updated_at) {
      test::signed_delivery d;
      d.secret = secret;
      d.webhook_id = id;
      d.body = test::product_json({product, "P", updated_at, "", "active", {}});
      d.triggered_at = updated_at;
      return test::post_webhook(client, d).status;
    };
    for (int n = 0; n < 300; ++n) {
      REQUIRE(deliver("burst-" + std::to_string(n), 1000 + n, "2026-02-01T00:00:00Z") == 200);
    }
    // Older than what is stored: each one is dropped as stale.
    for (int n = 0; n < 45; ++n) {
      REQUIRE(deliver("old-" + std::to_string(n), 1000, "2026-01-01T00:00:00Z") == 200);
    }
    service.process().send_signal(SIGTERM);
    REQUIRE(service.process().wait(std::chrono::seconds(15)) == 0);
    const std::string log = service.process().output();
    const auto lines = test::log_lines(log);
    // Lines of single deliveries whose webhook id begins with `prefix`.
    const auto lines_of = [&](const std::string& prefix) {
      return std::count_if(lines.begin(), lines.end(), [&](const auto& line) {
        return test::member_text(line, "webhook_id").value_or("").rfind(prefix, 0) == 0;
      });
    };
    CHECK(lines_of("burst-") == 0);
    CHECK(test::count_log_lines(log, {{"event", "deliveries"}}) >= 2);
    // One summary or more (a 10 s interval may have ended during the burst):
    // their counts add up.
    // Summed over the lines of an event for one outcome (a 10 s interval may
    // have ended during the burst, making two summaries).
    const auto total = [&](const std::string& event, const std::string& outcome,
                           const std::string& field) {
      std::int64_t sum = 0;
      for (const auto& line : lines) {
        if (test::member_text(line, "event") == event &&
            test::member_text(line, "outcome") == outcome) {
          sum += std::stoll(test::member_text(line, field).value_or("0"));
        }
      }
      return sum;
    };
    CHECK(total("deliveries", "applied", "count") == 300);
    CHECK(total("deliveries", "stale", "count") == 45);
    CHECK(test::logged(log, "deliveries",
                       {{"shop", "test-shop.myshopify.com"}, {"outcome", "applied"}}));
    // At most 20 stale lines in a 10 s interval: 45 within a second or two
    // span two intervals at most, so some are left out and counted.
    const auto stale_lines = lines_of("old-");
    CHECK(stale_lines >= 20);
    CHECK(stale_lines <= 40);
    CHECK(total("delivery_lines_suppressed", "stale", "suppressed") == 45 - stale_lines);
  }

  TEST_CASE("the logs of a full run hold no secret - signature, token or body") {
    test::test_database db;
    const std::string secret = "log-secret-7f3a9c";
    const std::string previous = "log-previous-21bd04";
    const std::string bearer = "log-reconcile-bearer-9d2e71c4";
    const std::string guessed = "log-guessed-bearer-40aa17f3";
    // The Admin API, for a reconcile run and the refresh of a stub payload:
    // both send its access token.
    test::admin_api_stand_in shopify;
    {
      test::product_spec p{9,  "Listed", "2026-02-01T00:00:00Z",
                           "", "active", {{91, "1.00", "S", 1, 1}}};
      auto mapped = model::map_product_webhook(model::product_topic::update, test::product_json(p));
      REQUIRE(std::holds_alternative<model::product_state>(mapped));
      shopify.put_product(std::get<model::product_state>(mapped));
    }
    test::service_process service(db.url(), {secret, previous},
                                  {{"SHOPMIRROR_SHOP", "test-shop.myshopify.com"},
                                   {"SHOPMIRROR_ADMIN_TOKEN", shopify.access_token()},
                                   {"SHOPMIRROR_ADMIN_API_URL", shopify.base_url()},
                                   {"SHOPMIRROR_RECONCILE_TOKEN", bearer},
                                   {"SHOPMIRROR_RECONCILE_AT", "off"},
                                   // The most a log holds: a line per delivery.
                                   {"SHOPMIRROR_LOG_LEVEL", "debug"}});
    auto client = test::local_client(service.port());
    CHECK(client.request("POST", "/reconcile", {{"Authorization", "Bearer " + guessed}}).status ==
          401);
    const auto started =
        client.request("POST", "/reconcile", {{"Authorization", "Bearer " + bearer}});
    CHECK(started.status == 202);
    const std::string marker = "body-marker-5e6f";
    const std::string body =
        test::product_json({9, marker, "2026-01-01T00:00:00Z", "", "active", {}});
    std::vector<std::string> signatures;
    for (const auto& [id, key, text] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"l-1", secret, body},
             {"l-2", previous, body},
             {"l-3", "wrong-key", body},
             {"l-4", secret, "{\"id\":9,\"title\":\"" + marker + "\" broken"}}) {
      test::signed_delivery d;
      d.webhook_id = id;
      d.secret = key;
      d.body = text;
      signatures.push_back(crypto::shopify_signature(key, text));
      test::post_webhook(client, d);
    }
    {
      test::signed_delivery stub; // a bare id: fetched from the Admin API
      stub.webhook_id = "l-stub";
      stub.secret = secret;
      stub.body = "{\"id\":9}";
      CHECK(test::post_webhook(client, stub).status == 200);
    }
    // The run and the refresh have both used the token before the logs are read.
    bool finished = false;
    for (int i = 0; i < 200 && !finished; ++i) {
      const auto runs =
          client.request("GET", "/reconcile/runs", {{"Authorization", "Bearer " + bearer}});
      std::vector<std::string> statuses;
      for (const auto& run : test::elements(runs.body, "runs")) {
        statuses.push_back(test::field(run, "status"));
      }
      finished = std::count(statuses.begin(), statuses.end(), "running") == 0 &&
                 std::count(statuses.begin(), statuses.end(), "succeeded") > 0 &&
                 db.scalar("select count(*) from shopify.product_refresh_requests") == "0";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(finished);
    CHECK(shopify.counters().requests.count("ProductById") == 1); // the stub's fetch
    for (int i = 0; i < 30; ++i) { // past the rate limit of signature warnings
      test::signed_delivery d;
      d.webhook_id = "flood-" + std::to_string(i);
      d.secret = "flood";
      d.body = body;
      test::post_webhook(client, d);
    }
    service.process().send_signal(SIGTERM);
    REQUIRE(service.process().wait(std::chrono::seconds(10)) == 0);
    const std::string logs = service.process().output();
    CHECK(test::count_log_lines(logs, {{"webhook_id", "l-1"}}) >= 1); // the deliveries were logged
    CHECK(logs.find(secret) == std::string::npos);
    CHECK(logs.find(previous) == std::string::npos);
    CHECK(logs.find(marker) == std::string::npos);
    CHECK(logs.find(shopify.access_token()) == std::string::npos);
    CHECK(logs.find(bearer) == std::string::npos);
    CHECK(logs.find(guessed) == std::string::npos);
    CHECK(test::logged(logs, "refresh", {{"product_id", "9"}})); // the refresh was logged
    for (const auto& signature : signatures) {
      CHECK(logs.find(signature) == std::string::npos);
    }
    // Every line is one JSON object, and bad signatures are rate-limited.
    std::istringstream lines(logs);
    std::string line;
    int refusals = 0;
    while (std::getline(lines, line)) {
      REQUIRE_FALSE(line.empty());
      const auto parsed = test::parse_json(line);
      REQUIRE(parsed.IsObject());
      refusals += test::member_text(parsed, "event") == "signature_refused" ? 1 : 0;
    }
    CHECK(refusals >= 1);
    CHECK(refusals <= 5);
  }
}
