#pragma once

// Realistic product webhooks for benchmarks: Shopify's REST shape, 1 to 100
// variants, mostly 3 to 5 KB.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace shopmirror::test {

/// How many variants a product has: mostly a few, sometimes many.
int variant_count(std::mt19937_64& random);

/// What successive versions of a product change.
enum class workload {
  /// Every version is an edit: updated_at, title, description, and every
  /// variant's inventory move. The most work per webhook.
  worst,
  /// As most of Shopify's products/update traffic: 9 versions in 10 change
  /// one variant's inventory and nothing else (updated_at stays: inventory
  /// does not move it); every 10th is an edit as well (updated_at, title,
  /// description).
  inventory,
};

/// "worst" or "inventory".
std::optional<workload> parse_workload(std::string_view name);

/// The version of the last edit at or before `version`: what updated_at,
/// the title and the description show.
int edit_of(workload w, int version);

/// The inventory of variant `v` (1 to `variants`) at `version`. Under
/// `inventory`, exactly one variant's changes from a version to the next.
int inventory_at(workload w, int version, int v, int variants);

/// A products/update body for `product_id` at `version` (updated_at is
/// updated_at_of its edit_of), with `variants` variants.
std::string product_body(std::int64_t product_id, int version, int variants,
                         workload w = workload::worst);

/// updated_at of a version, as the body carries it.
std::string updated_at_of(int version);

} // namespace shopmirror::test
