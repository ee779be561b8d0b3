#pragma once

// A realistic generated catalog for the reconcile benchmark: products with 1
// to 100 variants (mostly a few; see variant_count), titles, handles, tags,
// HTML descriptions of a few hundred bytes to a few KB, and exact prices.
// Product `index` is the same for the same seed, so a catalog is never
// stored: it is made again on demand.

#include "model/product_state.hpp"

#include <cstddef>
#include <cstdint>

namespace shopmirror::test {

struct catalog_options {
  std::uint64_t seed = 1;
  /// Product ids are first_product_id + 17 * index: increasing, Shopify-sized.
  std::int64_t first_product_id = 7'000'000'000'000;
};

/// Product `index` of the catalog. Variant ids are unique across the catalog
/// (index * 100 + position, offset).
model::product_state catalog_product(std::size_t index, const catalog_options& options = {});

} // namespace shopmirror::test
