// Group commit: batching, deadlines and backpressure of the delivery writer.

#include "db/writer.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace shopmirror;
using model::apply_outcome;
using clock_type = std::chrono::steady_clock;

namespace {

struct collector {
  std::mutex mutex;
  std::condition_variable done;
  std::vector<apply_outcome> outcomes;

  db::delivery_writer::completion callback() {
    return [this](apply_outcome o) {
      std::lock_guard lock(mutex);
      outcomes.push_back(o);
      done.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex);
    return done.wait_for(lock, timeout, [&] { return outcomes.size() >= n; });
  }
};

model::delivery_item numbered(int n) {
  return test::item_from_body(
      "products/update",
      test::product_json({1000 + n, "P" + std::to_string(n), "2026-01-01T00:00:00Z", "", "active",
                          {{5000 + n, "1.00", "", 1, n}}}),
      "w-" + std::to_string(n), "2026-01-01T00:00:01Z");
}

} // namespace

TEST_SUITE("db") {

TEST_CASE("concurrent deliveries are committed in batches - each answered after its commit") {
  test::test_database db;
  telemetry::histogram batch_sizes({1, 2, 4, 8, 16, 32, 64, 128});
  db::writer_settings options;
  options.connections = 1;
  options.max_batch = 64;
  options.max_wait = std::chrono::milliseconds(20);
  db::delivery_writer writer(db.settings(), options, {nullptr, &batch_sizes});
  collector results;
  constexpr int count = 300;
  for (int n = 0; n < count; ++n) {
    writer.submit(numbered(n), clock_type::now() + std::chrono::seconds(20), results.callback());
  }
  REQUIRE(results.wait_for(count, std::chrono::seconds(30)));
  CHECK(std::count(results.outcomes.begin(), results.outcomes.end(), apply_outcome::applied) == count);
  CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == std::to_string(count));
  CHECK(db.scalar("select count(*) from shopify.product_variants") == std::to_string(count));
  // Fewer commits than deliveries: that is group commit.
  std::uint64_t commits = 0;
  for (std::size_t i = 0; i <= batch_sizes.bounds().size(); ++i) {
    commits += batch_sizes.bucket(i);
  }
  CHECK(commits < static_cast<std::uint64_t>(count) / 2);
  CHECK(batch_sizes.sum() == doctest::Approx(count));
}

TEST_CASE("a delivery still queued at its deadline is not applied") {
  test::test_database db;
  db::delivery_writer writer(db.settings(), {});
  collector results;
  writer.submit(numbered(1), clock_type::now() - std::chrono::milliseconds(1), results.callback());
  REQUIRE(results.wait_for(1, std::chrono::seconds(10)));
  CHECK(results.outcomes[0] == apply_outcome::retry_later);
  CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
}

TEST_CASE("a full queue refuses at once - and nothing is acknowledged without a commit") {
  test::test_database db;
  // Another session holds the delivery log, so the one writer blocks.
  pqxx::connection blocker(db.url());
  pqxx::work hold(blocker);
  hold.exec("lock table shopify.webhook_deliveries in access exclusive mode");

  auto settings = db.settings();
  settings.lock_timeout = std::chrono::milliseconds(10000);
  settings.statement_timeout = std::chrono::milliseconds(10000);
  db::writer_settings options;
  options.connections = 1;
  options.max_batch = 1;
  options.queue_capacity = 2;
  db::delivery_writer writer(settings, options);
  collector results;
  const auto deadline = clock_type::now() + std::chrono::seconds(30);
  writer.submit(numbered(1), deadline, results.callback()); // taken by the writer, blocked
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.submit(numbered(2), deadline, results.callback()); // queued
  writer.submit(numbered(3), deadline, results.callback()); // queued
  const auto before = clock_type::now();
  writer.submit(numbered(4), deadline, results.callback()); // over capacity
  REQUIRE(results.wait_for(1, std::chrono::seconds(1)));
  CHECK(clock_type::now() - before < std::chrono::milliseconds(200));
  CHECK(results.outcomes[0] == apply_outcome::retry_later);

  hold.abort();
  REQUIRE(results.wait_for(4, std::chrono::seconds(20)));
  CHECK(std::count(results.outcomes.begin(), results.outcomes.end(), apply_outcome::applied) == 3);
  CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "3");
}

TEST_CASE("a queue that cannot commit in time refuses new deliveries at once") {
  test::test_database db;
  auto settings = db.settings();
  settings.lock_timeout = std::chrono::milliseconds(20000);
  settings.statement_timeout = std::chrono::milliseconds(20000);
  db::writer_settings options;
  options.connections = 1;
  options.max_batch = 1;
  db::delivery_writer writer(settings, options);
  collector warmup;
  for (int n = 0; n < 30; ++n) { // a commit rate to judge by
    writer.submit(numbered(n), clock_type::now() + std::chrono::seconds(10), warmup.callback());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(warmup.wait_for(30, std::chrono::seconds(10)));

  pqxx::connection blocker(db.url());
  pqxx::work hold(blocker);
  hold.exec("lock table shopify.webhook_deliveries in access exclusive mode");
  std::mutex mutex;
  std::vector<std::pair<apply_outcome, std::chrono::milliseconds>> answers;
  for (int n = 100; n < 125; ++n) { // commits stall; the rate decays
    const auto submitted = clock_type::now();
    writer.submit(numbered(n), submitted + std::chrono::seconds(5), [&, submitted](apply_outcome o) {
      std::lock_guard lock(mutex);
      answers.emplace_back(o, std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - submitted));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int refused_at_once = 0;
  {
    std::lock_guard lock(mutex);
    for (const auto& [outcome, after] : answers) {
      refused_at_once += outcome == apply_outcome::retry_later && after < std::chrono::milliseconds(50);
    }
  }
  CHECK(refused_at_once > 0);
  hold.abort();
  writer.stop();
  std::lock_guard lock(mutex);
  CHECK(answers.size() == 25);
  const auto applied = std::count_if(answers.begin(), answers.end(),
                                     [](const auto& a) { return a.first == apply_outcome::applied; });
  CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == std::to_string(30 + applied));
}

TEST_CASE("an unreachable database gives retry_later fast - never an acknowledgement") {
  db::db_settings settings;
  settings.url = "host=/nonexistent-socket-dir port=1 user=nobody dbname=none";
  db::delivery_writer writer(settings, {});
  collector results;
  const auto started = clock_type::now();
  for (int n = 0; n < 20; ++n) {
    writer.submit(numbered(n), clock_type::now() + std::chrono::seconds(5), results.callback());
  }
  REQUIRE(results.wait_for(20, std::chrono::seconds(10)));
  CHECK(clock_type::now() - started < std::chrono::seconds(3));
  CHECK(std::count(results.outcomes.begin(), results.outcomes.end(), apply_outcome::retry_later) == 20);
}

}
