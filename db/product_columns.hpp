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
  static constexpr std::size_t count = 33;

  /// A live state observed at `observed`, from the document `source`.
  /// Its variants point at `slot`, the 1-based index of this product. A
  /// whole state goes with its content fingerprint and presence bit 10
  /// ("every variant carries every field"), so p_present 2047 is whole.
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
  std::array<binary_array, count> column_ = binary_arrays({
      pg_element::timestamptz, // p_version_updated_at
      pg_element::timestamptz, // p_observed_at
      pg_element::timestamptz, // p_deleted_at
      pg_element::int4,        // p_present
      pg_element::text,        // p_title
      pg_element::text,        // p_handle
      pg_element::text,        // p_vendor
      pg_element::text,        // p_product_type
      pg_element::text,        // p_status
      pg_element::text,        // p_tags (comma-joined)
      pg_element::text,        // p_body_html
      pg_element::timestamptz, // p_created_at
      pg_element::timestamptz, // p_updated_at
      pg_element::timestamptz, // p_published_at
      pg_element::text,        // p_source
      pg_element::bytea,       // p_fingerprint (whole states only)
      pg_element::text,        // p_category_id
      pg_element::text,        // p_category_name
      pg_element::text,        // p_category_full_name
      pg_element::int4,        // v_item
      pg_element::int4,        // v_present
      pg_element::int8,        // v_id
      pg_element::text,        // v_sku
      pg_element::text,        // v_title
      pg_element::text,        // v_price (numeric)
      pg_element::text,        // v_compare_at_price (numeric)
      pg_element::int4,        // v_position
      pg_element::text,        // v_option1
      pg_element::text,        // v_option2
      pg_element::text,        // v_option3
      pg_element::text,        // v_barcode
      pg_element::int8,        // v_inventory_quantity
      pg_element::timestamptz, // v_updated_at
  });
};

} // namespace shopmirror::db
