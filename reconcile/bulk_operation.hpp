#pragma once

// A bulk operation as the Admin API describes it (`BulkOperation`, read
// with `bulkOperation(id:)` since 2026-01), why `bulkOperationRunQuery`
// started none, and whether a result holds what Shopify counted. Pure: JSON
// in, values out.

#include "model/timestamp.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::reconcile {

/// The fields of a BulkOperation that a listing reads.
struct bulk_operation_state {
  std::string id;
  /// CREATED, RUNNING, CANCELING, COMPLETED, FAILED, CANCELED or EXPIRED.
  std::string status;
  std::string error_code; ///< ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT; empty if none
  std::string url;        ///< the result; empty while running, and for an empty result
  std::string partial_data_url;
  /// Every object in the result, products and variants (an UnsignedInt64,
  /// which Shopify sends as a string); nullopt if absent or not a count.
  std::optional<std::uint64_t> object_count;
  /// The objects at the root of the query alone: the products.
  std::optional<std::uint64_t> root_object_count;
  std::optional<model::timestamp> created_at;
  std::optional<model::timestamp> completed_at;

  /// Whether it has ended, one way or another: it runs no more.
  bool ended() const;
};

/// Reads a BulkOperation object; what is missing or malformed stays empty.
bulk_operation_state read_bulk_operation(const rapidjson::Value& node);

/// Why a bulkOperationRunQuery payload carries no operation.
struct bulk_start_refusal {
  /// The first userError's message, or why there is none.
  std::string message;
  /// Another bulk query of this app is in progress (OPERATION_IN_PROGRESS):
  /// worth waiting for, not a reason to give up on bulk.
  bool in_progress = false;
  /// The running operation's gid, when the message names it.
  std::optional<std::string> running_id;
};

/// Reads the userErrors of a `bulkOperationRunQuery` payload (null if the
/// payload is missing).
bulk_start_refusal read_bulk_start_refusal(const rapidjson::Value* payload);

/// Whether a completed operation's result holds exactly what Shopify
/// counted: `lines` objects in all (objectCount), of which `roots` read as
/// root objects (rootObjectCount; `roots_are` names them in the message). A line that could not be
/// parsed (one of `unreadable`) may have been either, so then the products counted may lie between
/// `roots` and `roots + unreadable`. Empty if so; otherwise why not.
std::string bulk_count_mismatch(const bulk_operation_state& operation, std::uint64_t lines,
                                std::uint64_t roots, std::uint64_t unreadable,
                                std::string_view roots_are = "products");

} // namespace shopmirror::reconcile
