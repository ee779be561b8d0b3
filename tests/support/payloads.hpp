#pragma once

// Realistic product webhooks for benchmarks: Shopify's REST shape, 1 to 100
// variants, mostly 3 to 5 KB.

#include <cstdint>
#include <random>
#include <string>

namespace shopmirror::test {

/// How many variants a product has: mostly a few, sometimes many.
int variant_count(std::mt19937_64& random);

/// A products/update body for `product_id` at `version` (updated_at moves
/// one second per version), with `variants` variants.
std::string product_body(std::int64_t product_id, int version, int variants);

/// updated_at of a version, as the body carries it.
std::string updated_at_of(int version);

} // namespace shopmirror::test
