#pragma once

// A stand-in for Shopify's side of webhook delivery: a random history of
// product creates, updates and deletes, delivered as Shopify delivers it:
// at least once, in any order, some late, some twice, some never, each
// non-2xx or timeout retried with the same webhook id and the original
// payload. Each event may also reach a second subscription (another webhook
// id), whose body may be trimmed (include_fields); a create or update may
// come as a bare {"id"} stub (an oversized product). Some edits do not move
// the product's updated_at (two edits in one second, inventory). Every
// attempt is recorded, and an offline checker compares the record with the
// database (in the manner of recorded histories and offline checkers),
// modelling the mirror's rule field by field.

#include "model/variant_barcodes.hpp"
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
#include <set>
#include <string>
#include <vector>

namespace shopmirror::test {

struct variant_truth {
  std::int64_t id = 0;
  std::string price;
  std::int64_t inventory = 0;
  int position = 1;
  /// Its barcodes (API 2026-10); webhooks carry the first as `barcode`.
  std::vector<model::barcode> barcodes;
};

/// A product as Shopify holds it after an event.
struct product_truth {
  std::int64_t id = 0;
  bool deleted = false;
  std::string title;
  std::string tags; // sorted, comma-joined, as the mirror's text[] reads back
  std::string status;
  std::string category; // a taxonomy category's id; empty: none
  int version = 0;      // Shopify's updated_at, in seconds after a fixed start
  std::vector<variant_truth> variants;
};

/// What changed in Shopify.
enum class event_kind {
  create,
  update,      ///< moves updated_at
  same_second, ///< an edit in the same second as the last: updated_at stays
  inventory,   ///< inventory levels only: updated_at stays
  barcodes,    ///< one variant's barcodes only: updated_at stays
  remove,
};

/// What a delivery's body is.
enum class body_kind {
  whole,   ///< the full product (or a delete's {"id": N})
  trimmed, ///< a subscription's include_fields: id, title, updated_at, variants' id, price,
           ///< inventory
  stub,    ///< {"id": N} for a create or update: the product is to be fetched
};

/// One delivery Shopify makes: to a subscription, for an event.
struct planned_delivery {
  std::size_t event = 0;
  std::string webhook_id;
  std::string topic;
  std::string body;
  body_kind kind = body_kind::whole;
  std::string triggered_at;
  bool dropped = false; ///< never delivered (Shopify gave up, or the subscription lost it)
};

/// One event in Shopify.
struct event {
  event_kind kind = event_kind::update;
  std::string triggered_at;
  std::int64_t triggered_micros = 0;
  product_truth after;
};

/// One attempt to deliver a delivery.
struct attempt {
  std::size_t delivery = 0;
  int number = 0;
  int status = 0; ///< 0: no answer (timeout or connection error)
  std::string outcome;
  double latency_ms = 0;
  std::chrono::steady_clock::time_point answered_at; ///< when the answer (or failure) came
};

struct history_options {
  int products = 20;
  int events = 200;
  double delete_share = 0.08;
  /// Of the updates: edits that keep updated_at, and inventory-only ones.
  double same_second_share = 0.0;
  double inventory_share = 0.0;
  /// Of the updates: changes to one variant's barcodes (0 to 3 of them; the
  /// first may stay while the others change, which no webhook shows).
  double barcodes_share = 0.0;
  /// Deliveries sent twice under the same webhook id.
  double duplicate_share = 0.1;
  double drop_share = 0.0;
  /// Events that reach a second subscription too, and of those the share
  /// whose body is trimmed.
  double second_subscription_share = 0.0;
  double trimmed_share = 0.0;
  /// Creates and updates delivered as a bare {"id"} stub.
  double stub_share = 0.0;
  /// A product created first with this many variants (0: none).
  int heavy_variants = 0;
  int max_delay = 20; ///< how many later deliveries one may be overtaken by
  std::uint64_t seed = 1;
  std::string shop = "sim.myshopify.com";
};

/// A history and what Shopify finally holds.
struct history {
  std::vector<event> events;
  std::vector<planned_delivery> deliveries;
  std::map<std::int64_t, product_truth> final_truth;
  /// The order deliveries are first attempted in (indexes into deliveries).
  std::vector<std::size_t> delivery_order;
  history_options options;
};

history make_history(const history_options& options);

/// The version text of a product state: its updated_at.
std::string version_time(int version);

/// The products/create or products/update body of a live product state (its
/// webhook); the Admin API stand-in serves the same product from it.
std::string product_body(const product_truth& p);

/// Delivers a history to a service: every delivery not dropped is attempted
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
  /// Deliveries acknowledged so far; safe to read while `deliver` runs, so
  /// that a fault can be timed by progress rather than by the clock.
  std::size_t acknowledged_count() const noexcept { return acknowledged_count_.load(); }
  /// Deliveries that never got a 2xx (Shopify would give up on them).
  std::vector<std::size_t> undelivered() const;

private:
  const history& history_;
  std::string secret_;
  std::mutex mutex_;
  std::vector<attempt> attempts_;
  std::vector<bool> acknowledged_;
  std::atomic<std::size_t> acknowledged_count_{0};
};

/// What the mirror holds of one product, every typed column as text
/// ("NULL" where null): what the checkers compare.
struct mirror_product {
  bool deleted = false;
  std::string columns;       ///< title | tags | status | updated_at | handle | ... | published_at
  std::string variants;      ///< per variant by id: id:price:inventory:position:sku:...:updated_at
  bool content_known = true; ///< false: only existence and the tombstone are checked
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

/// What happened after the deliveries that the checker must know: stubs
/// whose product was fetched from the Admin API holding the final truth,
/// and deletes replayed later than every delivery (a signed {"id"} stub
/// under products/delete).
struct later_effects {
  bool stubs_fetched = false;
  std::set<std::int64_t> replayed_deletes;
};

/// Checks the database against the attempts: every 2xx is in the delivery
/// log, no delivery answered "applied" twice, and every product is what the
/// mirror's rule makes of the acknowledged deliveries: per product, live or
/// deleted as its newest state or delete says, and each field (each of the
/// variants' too) from the newest state that carried it.
check_report check_deliveries(const history& h, const std::vector<attempt>& attempts,
                              const test_database& db, const later_effects& later = {});

/// What the mirror must hold once a full reconcile has read Shopify's final
/// truth: every live product exactly; every deleted one that ever reached
/// the mirror tombstoned (its content is whatever last arrived: Shopify no
/// longer has it to give); deleted ones that never reached it, nothing.
std::map<std::int64_t, mirror_product> truth_after_reconcile(const history& h,
                                                             const std::set<std::int64_t>& reached);

/// The products of `shop` as the mirror holds them.
std::map<std::int64_t, mirror_product> read_mirror(const std::string& shop,
                                                   const test_database& db);

/// Differences between what the mirror holds and what is expected, one line
/// each (empty: equal).
std::vector<std::string> compare_mirror(const std::map<std::int64_t, mirror_product>& expected,
                                        const std::string& shop, const test_database& db);

} // namespace shopmirror::test
