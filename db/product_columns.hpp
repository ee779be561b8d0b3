#pragma once

// Internal to db/: the product and variant records that both
// shopify.apply_deliveries and shopify.reconcile_apply take, one
// shopify.product_input per product (or delivery) and one
// shopify.variant_input per variant (0011_apply_inputs.sql). Each column is
// one line of a table in product_columns.cpp; the records follow from it.

#include "db/binary_array.hpp"
#include "model/product_state.hpp"
#include "model/timestamp.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pqxx {
class transaction_base;
}

namespace shopmirror::db {

/// The oids of shopify.product_input and shopify.variant_input. A
/// composite type's oid is the database's own (each database that runs the
/// migrations gets others), so it is looked up once per connection; the
/// server refuses an array whose element oid is not the parameter's type.
struct input_types {
  std::uint32_t product = 0;
  std::uint32_t variant = 0;
};

/// Reads them (one round trip).
input_types lookup_input_types(pqxx::transaction_base& tx);

/// A column of one of the composite types: its name and type there, and
/// the presence bit (model::pf_* or vf_*) of the field it holds, 0 for a
/// column every row has.
struct input_column {
  std::string_view name;
  pg_element type;
  std::uint32_t presence;
};

/// The columns of shopify.product_input and shopify.variant_input, in order.
std::span<const input_column> product_input_columns();
std::span<const input_column> variant_input_columns();

/// The keys of shopify.field_keys(), in the order of the presence bits:
/// product fields (pf_*), then variant fields (vf_* shifted past them).
std::span<const std::string_view> field_keys();

class product_columns {
public:
  explicit product_columns(input_types types);

  /// A live state observed at `observed`, from the document `source`.
  /// Its variants point at `slot`, the 1-based index of this product.
  void add_state(const model::product_state& state, std::string_view source,
                 model::timestamp observed, std::int64_t slot);
  /// A delete of product `id` observed at `observed`: its version is that
  /// time.
  void add_delete(std::int64_t id, model::timestamp observed);
  /// Neither (a delivery that carries no product state): a null element.
  void add_none();

  /// Appends the finished arrays (binary format), products then variants.
  void take_into(std::vector<std::string>& out);

private:
  binary_array products_;
  binary_array variants_;
};

} // namespace shopmirror::db
