#pragma once

// A stand-in for Shopify's side of webhook delivery: a random history of
// product creates, updates and deletes, delivered as Shopify delivers it:
// at least once, in any order, some late, some twice, each non-2xx or
// timeout retried with the same webhook id and the original payload. Every
// attempt is recorded, and an offline checker compares the record with the
// database (in the manner of recorded histories and offline checkers).

#include "net/http_client.hpp"
#include "tests/support/test_database.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace shopmirror::test {

struct variant_truth {
  std::int64_t id = 0;
  std::string price;
  std::int64_t inventory = 0;
  int position = 1;
};

/// A product as Shopify holds it after an event.
struct product_truth {
  std::int64_t id = 0;
  bool deleted = false;
  std::string title;
  std::string tags; // sorted, comma-joined, as the mirror's text[] reads back
  std::string status;
  int version = 0; // Shopify's updated_at, in seconds after a fixed start
  std::vector<variant_truth> variants;
};

/// One event in Shopify and the one delivery it makes.
struct event {
  std::string webhook_id;
  std::string topic;
  std::string body;
  std::string triggered_at;
  product_truth after;
  bool dropped = false; ///< never delivered (Shopify gave up, or the subscription lost it)
};

/// One attempt to deliver an event.
struct attempt {
  std::size_t event = 0;
  int number = 0;
  int status = 0; ///< 0: no answer (timeout or connection error)
  std::string outcome;
  double latency_ms = 0;
};

struct history_options {
  int products = 20;
  int events = 200;
  double delete_share = 0.08;
  double duplicate_share = 0.1;
  double drop_share = 0.0;
  int max_delay = 20; ///< how many later events a delivery may be overtaken by
  std::uint64_t seed = 1;
  std::string shop = "sim.myshopify.com";
};

/// A history and what Shopify finally holds.
struct history {
  std::vector<event> events;
  std::map<std::int64_t, product_truth> final_truth;
  /// The order deliveries are first attempted in (indexes into events).
  std::vector<std::size_t> delivery_order;
  history_options options;
};

history make_history(const history_options& options);

/// The version text of a product state: its updated_at.
std::string version_time(int version);

/// The products/create or products/update body of a live product state (its
/// webhook); the Admin API stand-in serves the same product from it.
std::string product_body(const product_truth& p);

/// Delivers a history to a service: every event not dropped is attempted
/// in delivery order (and duplicates once more), each retried until it gets
/// a 2xx or `max_attempts` is reached, with `pause` between rounds of
/// retries (Shopify's backoff, compressed). Thread-safe recording.
class delivery_simulator {
public:
  delivery_simulator(const history& h, std::string secret);

  /// Delivers to whatever `client_for()` returns (a new client after any
  /// failure). `workers` deliver concurrently.
  void deliver(const std::function<net::http_client()>& client_for, int workers, int max_attempts,
               std::chrono::milliseconds pause);

  const std::vector<attempt>& attempts() const noexcept { return attempts_; }
  /// Events acknowledged so far; safe to read while `deliver` runs, so that a
  /// fault can be timed by progress rather than by the clock.
  std::size_t acknowledged_count() const noexcept { return acknowledged_count_.load(); }
  /// Events that never got a 2xx (Shopify would give up on them).
  std::vector<std::size_t> undelivered() const;

private:
  const history& history_;
  std::string secret_;
  std::mutex mutex_;
  std::vector<attempt> attempts_;
  std::vector<bool> acknowledged_;
  std::atomic<std::size_t> acknowledged_count_{0};
};

/// What the offline checker found; empty lists mean the promise held.
struct check_report {
  std::vector<std::string> lost;          ///< acknowledged, not in the delivery log
  std::vector<std::string> applied_twice; ///< answered "applied" more than once
  std::vector<std::string> wrong;         ///< products not as expected
  std::size_t acknowledged = 0;
  std::size_t products_checked = 0;
  bool ok() const { return lost.empty() && applied_twice.empty() && wrong.empty(); }
  std::string summary() const;
};

/// Checks the database against the attempts: every 2xx is in the delivery
/// log, no delivery answered "applied" twice, and every product equals the
/// newest state among the events Shopify got a 2xx for (tombstones too).
check_report check_deliveries(const history& h, const std::vector<attempt>& attempts,
                              const test_database& db);

/// Checks that the mirror equals `expected` exactly: every typed column the
/// history sets and every variant, deleted products tombstoned.
std::vector<std::string> compare_mirror(const std::map<std::int64_t, product_truth>& expected,
                                        const std::string& shop, const test_database& db);

} // namespace shopmirror::test
