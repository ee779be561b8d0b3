#pragma once

// Internal to db/: the product and variant arrays (p_*, v_*) that both
// shopify.apply_deliveries and shopify.reconcile_apply take, one element per
// product and one per variant, in the functions' argument order.

#include "db/binary_array.hpp"
#include "model/product_state.hpp"
#include "model/timestamp.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::db {

class product_columns {
public:
  static constexpr std::size_t count = 29;

  /// A live state observed at `observed`, from the document `source`.
  /// Its variants point at `slot`, the 1-based index of this product.
  void add_state(const model::product_state& state, std::string_view source,
                 model::timestamp observed, std::int64_t slot);
  /// A delete observed at `observed`: its version is that time.
  void add_delete(model::timestamp observed);
  /// Neither (a delivery that carries no product state).
  void add_none();

  /// Appends the finished arrays (binary format) to `out`, in argument order.
  void take_into(std::vector<std::string>& out);

private:
  // Element types in argument order; numeric columns travel as text and the
  // statements cast them (`$n::text[]::numeric[]`).
  std::array<binary_array, count> column_{
      binary_array(pg_element::timestamptz), binary_array(pg_element::timestamptz),
      binary_array(pg_element::timestamptz), binary_array(pg_element::int4),
      binary_array(pg_element::text),        binary_array(pg_element::text),
      binary_array(pg_element::text),        binary_array(pg_element::text),
      binary_array(pg_element::text),        binary_array(pg_element::text),
      binary_array(pg_element::text),        binary_array(pg_element::timestamptz),
      binary_array(pg_element::timestamptz), binary_array(pg_element::timestamptz),
      binary_array(pg_element::text),        binary_array(pg_element::int4),
      binary_array(pg_element::int4),        binary_array(pg_element::int8),
      binary_array(pg_element::text),        binary_array(pg_element::text),
      binary_array(pg_element::text),        binary_array(pg_element::text),
      binary_array(pg_element::int4),        binary_array(pg_element::text),
      binary_array(pg_element::text),        binary_array(pg_element::text),
      binary_array(pg_element::text),        binary_array(pg_element::int8),
      binary_array(pg_element::timestamptz)};
};

} // namespace shopmirror::db
