#include "db/product_columns.hpp"

#include "model/fingerprint.hpp"

#include <pqxx/pqxx>

#include <array>
#include <bit>

namespace shopmirror::db {
namespace {

// What a product record is written from: a state, or a delete (no state).
struct product_row {
  std::int64_t id = 0;
  model::timestamp version;
  model::timestamp observed;
  std::optional<model::timestamp> deleted;
  const model::product_state* state = nullptr;
  std::string_view source;
  bool whole = false;
};

struct variant_row {
  std::int64_t item = 0;
  const model::variant_state* variant = nullptr;
};

template <class Row> struct column_def {
  input_column column;
  void (*write)(binary_record&, pg_element, const Row&);
};

// A field of the state as it is.
template <auto member> void state_field(binary_record& r, pg_element type, const product_row& row) {
  r.add(type, row.state->*member);
}

// A field of the state's category; null for no category.
template <auto member>
void category_field(binary_record& r, pg_element type, const product_row& row) {
  if (row.state->category) {
    r.add(type, (*row.state->category).*member);
  } else {
    r.add_null(type);
  }
}

template <auto member>
void variant_field(binary_record& r, pg_element type, const variant_row& row) {
  r.add(type, row.variant->*member);
}

std::string join_tags(const std::vector<std::string>& tags) {
  // Tags never hold a comma (Shopify splits on it), so a comma-joined list
  // is lossless; the database splits it again.
  std::string out;
  for (const auto& tag : tags) {
    if (!out.empty()) {
      out += ',';
    }
    out += tag;
  }
  return out;
}

using pg = pg_element;
using model::product_state;
using model::variant_state;

// shopify.product_input (0011_apply_inputs.sql), column by column. A new
// product field is one line here, one column there.
constexpr column_def<product_row> product_table[] = {
    {{"product_id", pg::int8, 0}, [](auto& r, pg t, const auto& row) { r.add(t, row.id); }},
    {{"version_updated_at", pg::timestamptz, 0},
     [](auto& r, pg t, const auto& row) { r.add(t, row.version); }},
    {{"observed_at", pg::timestamptz, 0},
     [](auto& r, pg t, const auto& row) { r.add(t, row.observed); }},
    {{"deleted_at", pg::timestamptz, 0},
     [](auto& r, pg t, const auto& row) { r.add(t, row.deleted); }},
    // The content: null for a delete (encode), so each writer has a state.
    {{"present", pg::int4, 0},
     [](auto& r, pg t, const auto& row) { r.add(t, std::int64_t{row.state->present}); }},
    {{"whole", pg::boolean, 0}, [](auto& r, pg t, const auto& row) { r.add_bool(t, row.whole); }},
    {{"title", pg::text, model::pf_title}, state_field<&product_state::title>},
    {{"handle", pg::text, model::pf_handle}, state_field<&product_state::handle>},
    {{"vendor", pg::text, model::pf_vendor}, state_field<&product_state::vendor>},
    {{"product_type", pg::text, model::pf_product_type}, state_field<&product_state::product_type>},
    {{"status", pg::text, model::pf_status}, state_field<&product_state::status>},
    {{"tags", pg::text, model::pf_tags},
     [](auto& r, pg t, const auto& row) { r.add(t, join_tags(row.state->tags)); }},
    {{"body_html", pg::text, model::pf_body_html}, state_field<&product_state::body_html>},
    {{"created_at", pg::timestamptz, model::pf_created_at},
     state_field<&product_state::created_at>},
    {{"updated_at", pg::timestamptz, 0}, state_field<&product_state::updated_at>},
    {{"published_at", pg::timestamptz, model::pf_published_at},
     state_field<&product_state::published_at>},
    {{"source", pg::text, 0}, [](auto& r, pg t, const auto& row) { r.add(t, row.source); }},
    {{"fingerprint", pg::bytea, 0},
     [](auto& r, pg t, const auto& row) {
       if (row.whole) {
         r.add(t, model::content_fingerprint(*row.state));
       } else {
         r.add_null(t);
       }
     }},
    {{"category_id", pg::text, model::pf_category}, category_field<&model::product_category::id>},
    {{"category_name", pg::text, model::pf_category},
     category_field<&model::product_category::name>},
    {{"category_full_name", pg::text, model::pf_category},
     category_field<&model::product_category::full_name>},
};

// shopify.variant_input: each variant, and `item`, its product's slot.
constexpr column_def<variant_row> variant_table[] = {
    {{"item", pg::int4, 0}, [](auto& r, pg t, const auto& row) { r.add(t, row.item); }},
    {{"present", pg::int4, 0},
     [](auto& r, pg t, const auto& row) { r.add(t, std::int64_t{row.variant->present}); }},
    {{"id", pg::int8, 0}, variant_field<&variant_state::id>},
    {{"sku", pg::text, model::vf_sku}, variant_field<&variant_state::sku>},
    {{"title", pg::text, model::vf_title}, variant_field<&variant_state::title>},
    {{"price", pg::text, model::vf_price}, variant_field<&variant_state::price>},
    {{"compare_at_price", pg::text, model::vf_compare_at_price},
     variant_field<&variant_state::compare_at_price>},
    {{"position", pg::int4, model::vf_position}, variant_field<&variant_state::position>},
    {{"option1", pg::text, model::vf_option1}, variant_field<&variant_state::option1>},
    {{"option2", pg::text, model::vf_option2}, variant_field<&variant_state::option2>},
    {{"option3", pg::text, model::vf_option3}, variant_field<&variant_state::option3>},
    {{"barcode", pg::text, model::vf_barcode}, variant_field<&variant_state::barcode>},
    {{"inventory_quantity", pg::int8, model::vf_inventory_quantity},
     variant_field<&variant_state::inventory_quantity>},
    {{"updated_at", pg::timestamptz, model::vf_updated_at},
     variant_field<&variant_state::updated_at>},
};

// shopify.field_keys(): the database's numbering of the presence bits.
constexpr std::array<std::string_view, 22> keys = {"title",
                                                   "handle",
                                                   "vendor",
                                                   "product_type",
                                                   "status",
                                                   "tags",
                                                   "body_html",
                                                   "created_at",
                                                   "published_at",
                                                   "variants",
                                                   "category",
                                                   "variants.sku",
                                                   "variants.title",
                                                   "variants.price",
                                                   "variants.compare_at_price",
                                                   "variants.position",
                                                   "variants.option1",
                                                   "variants.option2",
                                                   "variants.option3",
                                                   "variants.barcode",
                                                   "variants.inventory_quantity",
                                                   "variants.updated_at"};

constexpr int product_bits = std::countr_zero(std::uint32_t{model::pf_all} + 1);
constexpr int variant_bits = std::countr_zero(std::uint32_t{model::vf_all} + 1);
static_assert(product_bits + variant_bits == keys.size());
static_assert(keys[std::countr_zero(std::uint32_t{model::pf_variants})] == "variants");

// Each column's presence bit names its field's key: the column itself
// (a category column: "category"), "variants." and the variant column.
constexpr bool product_bits_match() {
  std::uint32_t seen = model::pf_variants;
  for (const auto& def : product_table) {
    const std::uint32_t bit = def.column.presence;
    if (bit == 0) {
      continue;
    }
    if (!std::has_single_bit(bit) ||
        !def.column.name.starts_with(keys[static_cast<std::size_t>(std::countr_zero(bit))])) {
      return false;
    }
    seen |= bit;
  }
  return seen == model::pf_all;
}
static_assert(product_bits_match());

constexpr bool variant_bits_match() {
  std::uint32_t seen = 0;
  for (const auto& def : variant_table) {
    const std::uint32_t bit = def.column.presence;
    if (bit == 0) {
      continue;
    }
    const std::string_view key = keys[static_cast<std::size_t>(product_bits) +
                                      static_cast<std::size_t>(std::countr_zero(bit))];
    if (!std::has_single_bit(bit) || !key.starts_with("variants.") ||
        key.substr(9) != def.column.name) {
      return false;
    }
    seen |= bit;
  }
  return seen == model::vf_all;
}
static_assert(variant_bits_match());

// The product columns before the content: a delete has these alone.
constexpr std::size_t version_columns = 4;
static_assert(product_table[version_columns - 1].column.name == "deleted_at");

void encode(binary_array& into, const product_row& row) {
  binary_record record(into, std::size(product_table));
  for (std::size_t i = 0; i < std::size(product_table); ++i) {
    const auto& def = product_table[i];
    if (row.state == nullptr && i >= version_columns) {
      record.add_null(def.column.type);
    } else {
      def.write(record, def.column.type, row);
    }
  }
  record.finish();
}

void encode(binary_array& into, const variant_row& row) {
  binary_record record(into, std::size(variant_table));
  for (const auto& def : variant_table) {
    def.write(record, def.column.type, row);
  }
  record.finish();
}

template <std::size_t N> std::array<input_column, N> columns_of(const auto(&table)[N]) {
  std::array<input_column, N> out;
  for (std::size_t i = 0; i < N; ++i) {
    out[i] = table[i].column;
  }
  return out;
}

} // namespace

input_types lookup_input_types(pqxx::transaction_base& tx) {
  const pqxx::row row = tx.exec1("select 'shopify.product_input'::regtype::oid, "
                                 "'shopify.variant_input'::regtype::oid");
  return {row[0].as<std::uint32_t>(), row[1].as<std::uint32_t>()};
}

std::span<const input_column> product_input_columns() {
  static const auto columns = columns_of(product_table);
  return columns;
}

std::span<const input_column> variant_input_columns() {
  static const auto columns = columns_of(variant_table);
  return columns;
}

std::span<const std::string_view> field_keys() {
  return keys;
}

product_columns::product_columns(input_types types)
    : products_(types.product), variants_(types.variant) {}

void product_columns::add_state(const model::product_state& s, std::string_view source,
                                model::timestamp observed, std::int64_t slot) {
  encode(products_, product_row{.id = s.id,
                                .version = s.updated_at,
                                .observed = observed,
                                .deleted = std::nullopt,
                                .state = &s,
                                .source = source,
                                .whole = model::is_whole(s)});
  for (const model::variant_state& v : s.variants) {
    encode(variants_, variant_row{.item = slot, .variant = &v});
  }
}

void product_columns::add_delete(std::int64_t id, model::timestamp observed) {
  // A delete carries no updated_at: its version is the time Shopify
  // triggered it, which is after every update of the product.
  encode(products_, product_row{.id = id,
                                .version = observed,
                                .observed = observed,
                                .deleted = observed,
                                .state = nullptr,
                                .source = {},
                                .whole = false});
}

void product_columns::add_none() {
  products_.add_null();
}

void product_columns::take_into(std::vector<std::string>& out) {
  out.push_back(products_.take());
  out.push_back(variants_.take());
}

} // namespace shopmirror::db
