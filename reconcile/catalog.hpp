#pragma once

// Listing a shop's catalog through the GraphQL Admin API: a bulk operation
// (the default: one JSONL stream, no page limits, no bucket spent on pages)
// or `products` pages (the alternative, the fallback, and --since).

#include "db/reconcile_store.hpp"
#include "model/timestamp.hpp"
#include "reconcile/admin_api.hpp"

#include <functional>
#include <optional>
#include <stdexcept>

namespace shopmirror::reconcile {

/// Each listed product, with when it was observed (the request's time).
using product_sink = std::function<void(db::listed_product, model::timestamp observed)>;

/// A bulk operation could not be started (another one is running, or the
/// API refused it): the caller may list by pages instead.
class bulk_not_started : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Lists every product with a bulk operation: starts it, polls it to
/// completion, streams and joins its JSONL. Throws bulk_not_started, or
/// admin_api_error if the operation failed, was cancelled or expired.
void list_by_bulk_operation(admin_api& api, const reconcile_settings& settings,
                            cancel_token& cancel, const product_sink& sink);

/// Lists every product (or those updated at or after `since`) by pages.
void list_by_pages(admin_api& api, const reconcile_settings& settings,
                   std::optional<model::timestamp> since, const product_sink& sink);

/// One product by id; nullopt if Shopify does not have it (deleted).
std::optional<db::listed_product> fetch_product(admin_api& api, std::int64_t product_id);

} // namespace shopmirror::reconcile
