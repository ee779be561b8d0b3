#pragma once

// The Admin GraphQL API's shape of a product, as the reconcile reads it from
// a `products` page, a `product(id:)` query or a bulk operation's JSONL,
// mapped to the very same product_state a webhook of that product yields.

#include "model/product_state.hpp"

#include <rapidjson/document.h>

#include <string>
#include <variant>

namespace shopmirror::model {

/// A node that cannot be mapped, and why.
struct graphql_error {
  std::string reason;
};

/// Maps a Product node: `id` (a gid), title, handle, vendor, productType,
/// status (an enum: ACTIVE), tags (an array), descriptionHtml, createdAt,
/// updatedAt, publishedAt, category (`{id, name, fullName}` or null) and, if
/// the node has them, `variants.nodes`.
/// Every product field counts as present: the listing always asks for all.
/// Variants are canonicalized; more may be appended with add_graphql_variant
/// (bulk JSONL lines, further pages), then canonicalize() again.
std::variant<product_state, graphql_error> map_graphql_product(const rapidjson::Value& node);

/// Maps a ProductVariant node (`id`, sku, title, price and compareAtPrice as
/// Money strings, position, selectedOptions in option order, barcode,
/// inventoryQuantity, updatedAt) and appends it to `product`. Returns the
/// reason it could not, or an empty string.
std::string add_graphql_variant(const rapidjson::Value& node, product_state& product);

} // namespace shopmirror::model
