#pragma once

// Listing a shop's catalog through the GraphQL Admin API: a bulk operation
// (the default: one JSONL stream, no page limits, no bucket spent on pages)
// or `products` pages (the alternative, the fallback, and --since).

#include "db/reconcile_store.hpp"
#include "model/timestamp.hpp"
#include "model/variant_barcodes.hpp"
#include "reconcile/admin_api.hpp"

#include <functional>
#include <optional>
#include <stdexcept>

namespace shopmirror::reconcile {

/// Where a listing puts what it lists: each product, with when it was
/// observed (no later than Shopify began producing it), and each listed
/// object it could not read, with why.
struct listing_sink {
  std::function<void(db::listed_product, model::timestamp observed)> product;
  std::function<void(db::failed_product)> failed;
};

/// Where the barcodes listing puts each variant's barcodes, with when they
/// were observed, and why a listed variant could not be read.
struct barcodes_sink {
  std::function<void(model::variant_barcodes, model::timestamp observed)> variant;
  std::function<void(std::string reason)> failed;
};

/// A bulk operation could not be started (the API refused it, or another
/// bulk query of this app stayed in progress past the bulk timeout): the
/// caller may list by pages instead. The message says why.
class bulk_not_started : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Runs `by_bulk`, a listing by bulk operation; if the operation does not
/// start (bulk_not_started), logs `bulk_operation_refused` with why and
/// runs `by_pages` instead.
void list_by_bulk_or_pages(const db::run_record& run, const std::function<void()>& by_bulk,
                           const std::function<void()>& by_pages);

/// Lists every product with a bulk operation: starts it (grouped output;
/// a start refused because another bulk query of this app is in progress
/// waits for that one to end, within settings.bulk_timeout, and tries
/// again), polls it with bulkOperation(id:) to completion, streams and
/// joins its JSONL, and checks that the JSONL holds the objects and the
/// products Shopify counted. Throws bulk_not_started, or admin_api_error if
/// the operation failed, was cancelled or expired, or its result does not
/// hold what Shopify counted.
void list_by_bulk_operation(admin_api& api, const reconcile_settings& settings,
                            cancel_token& cancel, const listing_sink& sink);

/// Lists every product (or those updated at or after `since`) by pages.
void list_by_pages(admin_api& api, const reconcile_settings& settings,
                   std::optional<model::timestamp> since, const listing_sink& sink);

/// Lists every variant's barcodes (API 2026-10) with a bulk operation over
/// productVariants, run, polled and checked as list_by_bulk_operation's;
/// throws as that does.
void list_barcodes_by_bulk_operation(admin_api& api, const reconcile_settings& settings,
                                     cancel_token& cancel, const barcodes_sink& sink);

/// Lists every variant's barcodes (or those of variants updated at or after
/// `since`) by productVariants pages.
void list_barcodes_by_pages(admin_api& api, std::optional<model::timestamp> since,
                            const barcodes_sink& sink);

/// One product by id; nullopt if Shopify does not have it (deleted). Throws
/// admin_api_error if it cannot be read.
std::optional<db::listed_product> fetch_product(admin_api& api, std::int64_t product_id);

/// Asks the Admin API which shop it answers for, and throws admin_api_error
/// unless it is `domain`: a token or URL of another store would list that
/// store's catalog, and its sweep would tombstone this one's.
void verify_shop(admin_api& api, const std::string& domain);

} // namespace shopmirror::reconcile
