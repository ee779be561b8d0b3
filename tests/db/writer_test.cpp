// Group commit: batching, deadlines and backpressure of the delivery writer.
//
// No test here waits for time to pass: a writer is held where a test needs
// it by a table lock that a second connection takes, its decisions are
// judged against a clock the test advances by hand, and every wait is
// bounded generously, so that only a writer that is really stuck fails one.

#include "db/writer.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

using namespace shopmirror;
using model::apply_outcome;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// Far beyond any honest wait, so that only a writer that is stuck fails it.
constexpr auto stuck = 30s;

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
  bool wait_for(std::size_t n, std::chrono::seconds timeout = stuck) {
    std::unique_lock lock(mutex);
    return done.wait_for(lock, timeout, [&] { return outcomes.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return outcomes.size();
  }
  std::size_t count(apply_outcome o) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count(outcomes.begin(), outcomes.end(), o));
  }
};

// A clock that moves only when the test says.
struct manual_clock {
  // Far from the steady clock's epoch, which the writer takes for "never".
  std::atomic<clock_type::duration> since_epoch{std::chrono::hours(1)};
  clock_type::time_point now() const { return clock_type::time_point(since_epoch.load()); }
  void advance(clock_type::duration by) { since_epoch = since_epoch.load() + by; }
  db::delivery_writer::time_source source() {
    return [this] { return now(); };
  }
};

model::delivery_item numbered(int n) {
  return test::item_from_body("products/update",
                              test::product_json({1000 + n,
                                                  "P" + std::to_string(n),
                                                  "2026-01-01T00:00:00Z",
                                                  "",
                                                  "active",
                                                  {{5000 + n, "1.00", "", 1, n}}}),
                              "w-" + std::to_string(n), "2026-01-01T00:00:01Z");
}

// Another session holds the delivery log, so a writer that reaches it
// blocks until release().
struct delivery_log_lock {
  explicit delivery_log_lock(const test::test_database& db)
      : connection(db.url()), hold(connection) {
    hold.exec("lock table shopify.webhook_deliveries in access exclusive mode");
  }
  void release() { hold.abort(); }
  pqxx::connection connection;
  pqxx::work hold;
};

// Settings under which a writer waits out the lock above instead of failing.
db::db_settings patient(db::db_settings settings) {
  settings.lock_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(stuck);
  settings.statement_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(stuck);
  return settings;
}

// The writer has taken a batch (which the lock then blocks) and left the
// queue empty: whatever is submitted next waits in the queue.
void wait_until_batch_taken(const db::delivery_writer& writer) {
  const auto give_up = clock_type::now() + stuck;
  while (!(writer.busy_writers() == 1 && writer.queue_depth() == 0)) {
    REQUIRE_MESSAGE(clock_type::now() < give_up, "the writer never took its first batch");
    std::this_thread::sleep_for(1ms); // polling a gauge, not waiting for time to pass
  }
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
    db::delivery_writer writer(patient(db.settings()), options, {nullptr, &batch_sizes});
    collector results;
    constexpr int count = 300;
    {
      // The writer's first batch waits on the lock, so the rest are all
      // queued before the next batch is taken, however slowly they come.
      delivery_log_lock lock(db);
      for (int n = 0; n < count; ++n) {
        writer.submit(numbered(n), clock_type::now() + stuck, results.callback());
      }
      CHECK(results.size() == 0); // nothing answered before its commit
      lock.release();
    }
    REQUIRE(results.wait_for(count));
    CHECK(results.count(apply_outcome::applied) == count);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == std::to_string(count));
    CHECK(db.scalar("select count(*) from shopify.product_variants") == std::to_string(count));
    // Fewer commits than deliveries: that is group commit. The first batch
    // holds what arrived before the lock stopped it; the rest go in full
    // batches of max_batch.
    std::uint64_t commits = 0;
    for (std::size_t i = 0; i <= batch_sizes.bounds().size(); ++i) {
      commits += batch_sizes.bucket(i);
    }
    CHECK(commits >= (count + 63) / 64);
    CHECK(commits <= 1 + (count - 1 + 63) / 64);
    CHECK(batch_sizes.bucket(batch_sizes.bounds().size()) == 0); // none above max_batch
    CHECK(batch_sizes.sum() == doctest::Approx(count));
  }

  TEST_CASE("a delivery still queued at its deadline is not applied") {
    test::test_database db;
    db::delivery_writer writer(db.settings(), {});
    collector results;
    writer.submit(numbered(1), clock_type::now() - std::chrono::milliseconds(1),
                  results.callback());
    REQUIRE(results.wait_for(1));
    CHECK(results.outcomes[0] == apply_outcome::retry_later);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
  }

  TEST_CASE("a full queue refuses at once - and nothing is acknowledged without a commit") {
    test::test_database db;
    db::writer_settings options;
    options.connections = 1;
    options.max_batch = 1;
    options.queue_capacity = 2;
    db::delivery_writer writer(patient(db.settings()), options);
    // After the writer, so that a failed check releases it before the writer
    // drains its queue.
    delivery_log_lock lock(db);
    collector results;
    const auto deadline = clock_type::now() + stuck;
    writer.submit(numbered(1), deadline, results.callback()); // taken by the writer, blocked
    wait_until_batch_taken(writer);
    writer.submit(numbered(2), deadline, results.callback()); // queued
    writer.submit(numbered(3), deadline, results.callback()); // queued
    CHECK(results.size() == 0);
    writer.submit(numbered(4), deadline, results.callback()); // over capacity
    // At once: answered before submit() returned, not by a writer later.
    REQUIRE(results.size() == 1);
    CHECK(results.outcomes[0] == apply_outcome::retry_later);

    lock.release();
    REQUIRE(results.wait_for(4));
    CHECK(results.count(apply_outcome::applied) == 3);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "3");
  }

  TEST_CASE("a queue that cannot commit in time refuses new deliveries at once") {
    test::test_database db;
    manual_clock time;
    db::writer_settings options;
    options.connections = 1;
    options.max_batch = 1;
    db::delivery_writer writer(patient(db.settings()), options, {}, time.source());
    const auto far = std::chrono::hours(1);

    // A commit rate to judge by: 12 deliveries in 4 seconds, 3 a second.
    collector warmup;
    for (int n = 0; n < 12; ++n) {
      writer.submit(numbered(n), time.now() + far, warmup.callback());
    }
    REQUIRE(warmup.wait_for(12));
    time.advance(4s);

    delivery_log_lock lock(db);
    collector queued;
    writer.submit(numbered(100), time.now() + far, queued.callback()); // measures the rate; blocked
    wait_until_batch_taken(writer);
    writer.submit(numbered(101), time.now() + far, queued.callback());
    writer.submit(numbered(102), time.now() + far, queued.callback());

    // Two queued at 3 a second need 0.67 s: a delivery with half a second
    // is refused at once, one with ten seconds is queued.
    collector refused;
    writer.submit(numbered(103), time.now() + 500ms, refused.callback());
    CHECK(refused.size() == 1);
    writer.submit(numbered(104), time.now() + 10s, queued.callback());
    CHECK(queued.size() == 0);

    // Commits stall; each second without one lowers the rate...
    for (int n = 0; n < 8; ++n) {
      time.advance(1s);
      writer.submit(numbered(110 + n), time.now(), refused.callback());
    }
    CHECK(refused.size() == 9);
    // ...until the same ten seconds are not enough for the three queued.
    writer.submit(numbered(120), time.now() + 10s, refused.callback());
    CHECK(refused.size() == 10);
    CHECK(refused.count(apply_outcome::retry_later) == 10);

    lock.release();
    REQUIRE(queued.wait_for(4));
    writer.stop();
    CHECK(queued.count(apply_outcome::applied) == 4);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "16");
  }

  TEST_CASE("an unreachable database gives retry_later - never an acknowledgement, never a wait "
            "for the deadline") {
    db::db_settings settings;
    settings.url = "host=/nonexistent-socket-dir port=1 user=nobody dbname=none";
    db::delivery_writer writer(settings, {});
    collector results;
    // The deliveries could wait an hour; the answers must not.
    for (int n = 0; n < 20; ++n) {
      writer.submit(numbered(n), clock_type::now() + std::chrono::hours(1), results.callback());
    }
    REQUIRE(results.wait_for(20));
    CHECK(results.count(apply_outcome::retry_later) == 20);
    CHECK(writer.connected_writers() == 0);
  }
}
