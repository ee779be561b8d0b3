// Several stateless replicas sharing one PostgreSQL, behind one nginx
// upstream: PostgreSQL is the only coordination point.

#include "model/webhook_payload.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/nginx_process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace shopmirror;

namespace {

const std::string secret = "replica-secret";

test::signed_delivery delivery(const std::string& id, std::int64_t product) {
  test::signed_delivery d;
  d.secret = secret;
  d.webhook_id = id;
  d.body = test::product_json(
      {product, "R", "2026-01-01T00:00:00Z", "", "active", {{product * 10, "2.00", "", 1, 1}}});
  return d;
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("replicas starting together migrate once") {
    test::test_database db(false); // no schema yet: both starts find migrations to apply
    // Both started at once, before either has migrated (service_process would
    // wait for the first to be listening, which it is only after migrating).
    const test::environment env = {{"SHOPMIRROR_DATABASE_URL", db.url()},
                                   {"SHOPMIRROR_WEBHOOK_SECRETS", secret},
                                   {"SHOPMIRROR_LISTEN", "127.0.0.1:0"}};
    test::child_process first({test::shopmirror_binary(), "serve"}, env);
    test::child_process second({test::shopmirror_binary(), "serve"}, env);
    const auto port_of = [](const test::child_process& replica) {
      const auto port = test::listening_port(replica, std::chrono::seconds(20));
      REQUIRE_MESSAGE(port, replica.output());
      return *port;
    };
    auto a = test::local_client(port_of(first));
    auto b = test::local_client(port_of(second));
    CHECK(a.request("GET", "/readyz", {}).status == 200);
    CHECK(b.request("GET", "/readyz", {}).status == 200);
    // Each migration applied by exactly one of them, none failed.
    const std::size_t applied =
        test::count_log_lines(first.output(), {{"event", "migration_applied"}}) +
        test::count_log_lines(second.output(), {{"event", "migration_applied"}});
    CHECK(applied > 0);
    CHECK(std::to_string(applied) == db.scalar("select count(*) from shopify.schema_migrations"));
    CHECK(test::count_log_lines(first.output(), {{"level", "error"}}) == 0);
    CHECK(test::count_log_lines(second.output(), {{"level", "error"}}) == 0);
  }

  TEST_CASE("the same deliveries sent to two replicas at once apply once") {
    test::test_database db;
    test::service_process first(db.url(), {secret});
    test::service_process second(db.url(), {secret});
    constexpr int count = 200;
    std::vector<std::vector<std::pair<int, std::string>>> outcomes(2); // status, body
    std::vector<std::thread> senders;
    for (int side = 0; side < 2; ++side) {
      senders.emplace_back([&, side] {
        auto client = test::local_client(side == 0 ? first.port() : second.port());
        for (int n = 0; n < count; ++n) {
          const auto r = test::post_webhook(client, delivery("twice-" + std::to_string(n), n + 1));
          outcomes[static_cast<std::size_t>(side)].emplace_back(static_cast<int>(r.status), r.body);
        }
      });
    }
    for (auto& s : senders) {
      s.join();
    }
    int applied = 0, duplicate = 0;
    for (int n = 0; n < count; ++n) {
      const auto& x = outcomes[0][static_cast<std::size_t>(n)];
      const auto& y = outcomes[1][static_cast<std::size_t>(n)];
      CHECK(x.first == 200);
      CHECK(y.first == 200);
      for (const std::string& outcome :
           {test::field(x.second, "outcome"), test::field(y.second, "outcome")}) {
        applied += outcome == "applied" ? 1 : 0;
        duplicate += outcome == "duplicate" ? 1 : 0;
      }
    }
    CHECK(applied == count);
    CHECK(duplicate == count);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == std::to_string(count));
    CHECK(db.scalar("select count(*) from shopify.product_variants") == std::to_string(count));
  }

  TEST_CASE("stopping one replica behind nginx loses nothing acknowledged") {
    test::test_database db;
    test::service_process first(db.url(), {secret});
    // At debug level, so that its log shows each delivery it applied.
    test::service_process second(db.url(), {secret}, {{"SHOPMIRROR_LOG_LEVEL", "debug"}});
    test::nginx_process nginx({first.port(), second.port()}, test::nginx_process::mode::plain);

    std::mutex mutex;
    std::set<std::string> acknowledged;
    std::map<int, int> statuses;
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < 6; ++t) {
      senders.emplace_back([&, t] {
        auto client = test::local_client(nginx.port(), std::chrono::seconds(10));
        for (int n = 0; !stop; ++n) {
          const std::string id = "rep-" + std::to_string(t) + "-" + std::to_string(n);
          int status = 0;
          try {
            status =
                static_cast<int>(test::post_webhook(client, delivery(id, t * 100000 + n)).status);
          } catch (const net::transport_error&) {
            status = -1;
          }
          std::lock_guard lock(mutex);
          ++statuses[status];
          if (status == 200) {
            acknowledged.insert(id);
          }
        }
      });
    }
    // Waits until `n` deliveries are acknowledged (a sanitizer build is several
    // times slower to get there), and at least `at_least` more.
    const auto acknowledged_past = [&](std::size_t n, std::chrono::milliseconds at_least) {
      std::this_thread::sleep_for(at_least);
      const auto by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < by) {
        {
          std::lock_guard lock(mutex);
          if (acknowledged.size() > n) {
            return;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    };
    acknowledged_past(50, std::chrono::milliseconds(1000));
    first.process().send_signal(SIGTERM);
    CHECK(first.process().wait(std::chrono::seconds(15)) == 0);
    // The survivor carries on alone.
    acknowledged_past(100, std::chrono::milliseconds(1000));
    stop = true;
    for (auto& s : senders) {
      s.join();
    }
    std::set<std::string> stored;
    for (const auto& row : db.query("select webhook_id from shopify.webhook_deliveries")) {
      stored.insert(*row[0]);
    }
    for (const auto& id : acknowledged) {
      CHECK_MESSAGE(stored.count(id) == 1, id);
    }
    CHECK(acknowledged.size() > 100);
    // Deliveries after the stop went to the survivor.
    CHECK(test::logged(second.process().output(), "delivery", {{"outcome", "applied"}}));
    MESSAGE("answers by status (-1: no answer): " << [&] {
      std::string text;
      for (const auto& [status, n] : statuses) {
        text += std::to_string(status) + "=" + std::to_string(n) + " ";
      }
      return text;
    }());
  }
}

TEST_SUITE("e2e") {

  TEST_CASE("a reconcile triggered on both replicas at once runs once") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    for (std::int64_t id = 1; id <= 30; ++id) {
      auto mapped = model::map_product_webhook(
          model::product_topic::update,
          test::product_json(
              {id, "R", "2026-01-01T00:00:00Z", "", "active", {{id * 10, "2.00", "", 1, 1}}}));
      shopify.put_product(std::get<model::product_state>(mapped));
    }
    shopify.set_bulk_running_polls(3); // the run lasts a moment
    const std::string bearer = "replicas-bearer-token-0123456789";
    const test::environment env = {{"SHOPMIRROR_SHOP", "test-shop.myshopify.com"},
                                   {"SHOPMIRROR_ADMIN_TOKEN", shopify.access_token()},
                                   {"SHOPMIRROR_ADMIN_API_URL", shopify.base_url()},
                                   {"SHOPMIRROR_RECONCILE_TOKEN", bearer},
                                   {"SHOPMIRROR_RECONCILE_AT", "off"}};
    test::service_process first(db.url(), {secret}, env);
    test::service_process second(db.url(), {secret}, env);
    const auto trigger = [&](std::uint16_t port) {
      auto client = test::local_client(port);
      return client.request("POST", "/reconcile", {{"Authorization", "Bearer " + bearer}});
    };
    auto a = std::async(std::launch::async, trigger, first.port());
    auto b = std::async(std::launch::async, trigger, second.port());
    const auto answer_a = a.get();
    const auto answer_b = b.get();
    CHECK(answer_a.status == 202);
    CHECK(answer_b.status == 202);
    // One started it; the other answered with the same run.
    CHECK(test::field(answer_a.body, "started") != test::field(answer_b.body, "started"));
    CHECK(test::field(answer_a.body, "run_id") != "null");
    CHECK(test::field(answer_a.body, "run_id") == test::field(answer_b.body, "run_id"));
    for (int i = 0; i < 200 && db.scalar("select count(*) from shopify.reconcile_runs where "
                                         "status = 'running'") != "0";
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(db.scalar("select count(*) || ' ' || min(status) || ' ' || min(inserted) from "
                    "shopify.reconcile_runs") == "1 succeeded 30");
    CHECK(shopify.counters().bulk_started == 1);
  }

} // TEST_SUITE
