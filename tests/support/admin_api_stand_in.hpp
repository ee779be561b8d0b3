#pragma once

// A stand-in for Shopify's Admin GraphQL API, as much of it as the reconcile
// client speaks (Shopify's GraphQL Admin API reference; bulk operations as
// of API 2026-01, README "Reconcile"): a real HTTP/1.1 server on 127.0.0.1 and a port of its
// own, with a product catalog a test controls, the per-shop cost bucket,
// bulk operations with a JSONL download, and faults on demand.
//
// The operations it answers, by GraphQL operation name (the identifier after
// the leading `query` or `mutation`), at POST /admin/api/{version}/graphql.json
// with `X-Shopify-Access-Token`:
//   ProductsPage($first, $after, $query)  products sorted by id, 100 variants each
//   ProductVariantsPage($id, $after)      250 variants of one product
//   ProductById($id)                      one product or null
//   VariantBarcodesPage($first, $after, $query)  productVariants sorted by id, with
//                                         each one's product id and barcodes(first: 20)
//   StartBulkProducts($query)             bulkOperationRunQuery(query:, groupObjects:); a
//                                         query over productVariants lists barcodes
//   BulkOperationById($id)                bulkOperation(id:), or null
//   BulkOperations($first, $query)        bulkOperations(first:, query:), newest first;
//                                         the query filters on operation_type and status
//   ShopIdentity                          shop { myshopifyDomain }: the shop the token is for
//   WebhookSubscriptions($first, $after)  webhookSubscriptions
//   (tests/support/subscription_registry.hpp) Create/Update/DeleteWebhookSubscription
//   webhookSubscriptionCreate / Update / Delete
// and GET /bulk/<id>.jsonl (no token, like the signed storage URL it stands
// for), streamed in chunks; and POST /admin/oauth/access_token, the token
// endpoint (tests/support/token_authority.hpp), whose tokens the GraphQL
// endpoint accepts beside the static `access_token`.
//
// Bulk operations as Shopify has them: `groupObjects` is read from the
// mutation's text (a literal or a variable) and defaults to false from API
// 2026-01 on (true before); grouped output puts each product's variants
// right after it, ungrouped output all products first and then all
// variants (each still naming its product in __parentId). One bulk query at
// a time: a start while another bulk query of the app is CREATED or RUNNING
// gets the userError OPERATION_IN_PROGRESS, whose message names that
// operation. (Shopify's guide allows five from 2026-01, its reference pages
// one; the stand-in keeps to one, which is what makes the error reachable.)
// objectCount and rootObjectCount are strings, "0" until the operation ends.

#include "model/product_state.hpp"
#include "model/timestamp.hpp"
#include "model/variant_barcodes.hpp"
#include "tests/support/subscription_registry.hpp"
#include "tests/support/token_authority.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::test {

struct admin_api_settings {
  std::string access_token = "shpat_stand_in_token";
  /// The shop the token belongs to, which `shop { myshopifyDomain }` names.
  std::string shop_domain = "test-shop.myshopify.com";
  /// The cost bucket: Shopify's Standard plan.
  double maximum_available = 2000;
  double restore_rate = 100; ///< points per second, leaking continuously
  /// The HTTP status of a THROTTLED answer (Shopify's is 200; some clients
  /// have seen 429).
  unsigned throttled_status = 200;
  /// Status polls a bulk operation answers RUNNING before the poll that
  /// completes it (and snapshots the catalog).
  int bulk_running_polls = 1;
  /// Complete (and snapshot) a bulk operation as it starts.
  bool bulk_complete_at_start = false;
  /// The token endpoint.
  token_authority_settings oauth;
  /// Whether the OPERATION_IN_PROGRESS message names the operation in
  /// progress (clients have seen it do so: "... already in progress:
  /// gid://shopify/BulkOperation/N.").
  bool bulk_in_progress_names_operation = true;
};

/// What the stand-in has seen and done, for tests to assert on.
struct admin_api_counters {
  /// GraphQL requests by operation name (unknown names too, "" if none),
  /// and "bulk_download" for GET /bulk/... ("bulk_barcodes_download" for
  /// the result of a barcodes query). Every request is counted,
  /// whether or not it was answered normally.
  std::map<std::string, int> requests;
  int throttled = 0;         ///< THROTTLED answers
  int max_cost_exceeded = 0; ///< requested cost over the whole bucket
  int unauthorized = 0;      ///< 401 answers
  int injected_429 = 0;
  int injected_5xx = 0;
  int injected_drops = 0;
  int injected_delays = 0;
  int bulk_started = 0;                  ///< bulk queries of products
  int bulk_barcodes_started = 0;         ///< bulk queries of productVariants' barcodes
  int bulk_ungrouped = 0;                ///< bulk operations started without groupObjects true
  int bulk_in_progress = 0;              ///< starts refused with OPERATION_IN_PROGRESS
  std::vector<std::string> api_versions; ///< distinct, in the order first seen

  int of(const std::string& operation) const {
    const auto it = requests.find(operation);
    return it == requests.end() ? 0 : it->second;
  }
};

/// The cost bucket as the last answer reported it.
struct throttle_status {
  double maximum_available = 0;
  double currently_available = 0;
  double restore_rate = 0;
};

/// The Admin API stand-in. Every public member is thread-safe. The server
/// runs on a thread of its own from construction until destruction.
class admin_api_stand_in {
public:
  explicit admin_api_stand_in(admin_api_settings settings = {});
  ~admin_api_stand_in();
  admin_api_stand_in(const admin_api_stand_in&) = delete;
  admin_api_stand_in& operator=(const admin_api_stand_in&) = delete;

  std::uint16_t port() const noexcept;
  /// `http://127.0.0.1:PORT`: what SHOPMIRROR_ADMIN_API_URL is set to.
  std::string base_url() const;
  /// `/admin/api/{version}/graphql.json`.
  static std::string graphql_target(std::string_view version = "2026-10");
  const std::string& access_token() const noexcept;

  // --- The catalog --------------------------------------------------------

  /// Adds or replaces a product (by id). `option_names` name option1..3 in
  /// selectedOptions; a missing name is rendered "Option1".."Option3".
  void put_product(model::product_state product, std::vector<std::string> option_names = {});
  /// Sets a variant's barcodes (API 2026-10), as productVariantsBulkUpdate
  /// does: its `barcode` becomes the first of them (null for none) and its
  /// updatedAt `updated_at` (if given). A variant without barcodes set has the one its
  /// `barcode` names; put_product keeps a variant's barcodes while its
  /// `barcode` is still their first. False if there is no such variant.
  bool set_barcodes(std::int64_t product_id, std::int64_t variant_id,
                    std::vector<model::barcode> barcodes,
                    std::optional<model::timestamp> updated_at);
  /// A deletion in Shopify: the product disappears from every later answer
  /// (a bulk operation that already completed keeps its snapshot).
  bool remove_product(std::int64_t id);
  void clear_catalog();
  /// Adds `count` products made by `generate(0..count-1)`, in batches, so a
  /// large catalog never sits twice in memory.
  void fill(std::size_t count, const std::function<model::product_state(std::size_t)>& generate);
  std::optional<model::product_state> product(std::int64_t id) const;
  /// Every product, sorted by id.
  std::vector<model::product_state> snapshot() const;
  std::size_t product_count() const;

  /// Called on the server's thread with the operation name of every request
  /// (as counted in admin_api_counters::requests), before it is answered and
  /// without any lock held: it may change the catalog or the knobs.
  void on_request(std::function<void(std::string_view operation)> hook);

  // --- Knobs: each applies to the next `count` requests of any kind --------

  /// Answer 429 with `Retry-After: retry_after_seconds`.
  void fail_next_with_429(int count, int retry_after_seconds = 1);
  /// Answer `status` (500, 502, 503...) with a small body.
  void fail_next_with_status(int count, unsigned status = 503);
  /// Read the request, then close the connection without an answer.
  void drop_next(int count);
  /// Answer `delay` later than otherwise (other connections are not held up).
  void delay_next(int count, std::chrono::milliseconds delay);

  /// The next StartBulkProducts gets bulkOperation null and this userError
  /// (without a code).
  void fail_next_bulk_start(std::string message = "Bulk operations are temporarily unavailable.");
  /// A bulk query of the same app started elsewhere (a replica's, or one a
  /// replica that died left behind): RUNNING from now, so every start is
  /// refused with OPERATION_IN_PROGRESS while it runs. It answers RUNNING to
  /// `polls` status polls of it and completes at the next; never, if
  /// `polls` is negative. Returns its gid.
  std::string start_bulk_operation_elsewhere(int polls);
  /// The next bulk operation to complete reports a rootObjectCount
  /// `difference` off the products in its result (objectCount stays true).
  void miscount_next_bulk_roots(int difference);
  /// The next bulk operation to complete ends FAILED (errorCode
  /// INTERNAL_SERVER_ERROR, url null) with a partialDataUrl holding only the
  /// first `share` of the catalog's products.
  void fail_next_bulk_operation(double share = 0.5);
  void set_bulk_running_polls(int polls);
  void set_bulk_complete_at_start(bool immediately);
  void set_bulk_in_progress_names_operation(bool names);
  /// The shop the stand-in answers for from now on (a token of another store).
  void set_shop_domain(std::string domain);
  /// Replaces the bucket's size and rate; the bucket starts full again.
  void set_bucket(double maximum_available, double restore_rate);
  void set_throttled_status(unsigned status);
  /// Empties the bucket (it refills at the restore rate from now).
  void drain_bucket();

  /// The token endpoint: its knobs and what it granted.
  token_authority& oauth();
  /// The shop's webhook subscriptions.
  subscription_registry& subscriptions();

  admin_api_counters counters() const;
  void reset_counters();
  throttle_status bucket() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The opaque cursor the stand-in issues for a product or variant id:
/// base64 of its decimal digits.
std::string stand_in_cursor(std::int64_t id);

} // namespace shopmirror::test
