#pragma once

// A variant's barcodes (Admin API 2026-10: `ProductVariant.barcodes`, up to
// 20, each a value and an optional standard). Only the GraphQL Admin API
// has them: product webhooks carry the deprecated `barcode`, which is the
// first of them. So they are not part of a product's state; the reconcile
// lists them on their own (reconcile/catalog.hpp) and the mirror keeps them
// beside the variants (db/barcode_store.hpp, docs/ARCHITECTURE.md).

#include "model/graphql_product.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace shopmirror::model {

struct barcode {
  /// The standard Shopify was told (ASIN, EAN, GTIN, ISBN, UPC), or none:
  /// the value is then as entered. Kept as text, so a standard Shopify adds
  /// later is stored rather than refused.
  std::optional<std::string> type;
  std::string value;

  bool operator==(const barcode&) const = default;
};

/// Shopify's limit per variant (API 2026-10).
constexpr std::size_t max_barcodes = 20;

/// One variant's barcodes as a listing showed them, in Shopify's order: the
/// first is what the variant's `barcode` field returns.
struct variant_barcodes {
  std::int64_t product_id = 0;
  std::int64_t variant_id = 0;
  std::vector<barcode> barcodes;

  bool operator==(const variant_barcodes&) const = default;
};

/// Maps a ProductVariant node of the barcodes listing:
/// `{id, product {id}, barcodes {nodes [{type, value}]}}`, ids as gids. A
/// bulk operation's variant line has no `barcodes` (its barcodes follow as
/// lines of their own: add_graphql_barcode); a page's node must have them.
std::variant<variant_barcodes, graphql_error>
map_graphql_variant_barcodes(const rapidjson::Value& node, bool barcodes_required);

/// Appends one ProductVariantBarcode node (`{type, value}`) to `variant`.
/// Returns why it could not, or an empty string.
std::string add_graphql_barcode(const rapidjson::Value& node, variant_barcodes& variant);

/// The barcodes as the JSON array the mirror stores
/// (`[{"type":"UPC","value":"012345678905"}]`).
std::string barcodes_json(const std::vector<barcode>& barcodes);

} // namespace shopmirror::model
