#include "db/product_columns.hpp"

#include "model/fingerprint.hpp"

namespace shopmirror::db {
namespace {

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

} // namespace

namespace {

// Positions in column_ (the functions' argument order).
enum column : std::size_t {
  version_updated_at,
  observed_at,
  deleted_at,
  present,
  title,
  handle,
  vendor,
  product_type,
  status,
  tags,
  body_html,
  created_at,
  updated_at,
  published_at,
  source,
  fingerprint,
  category_id,
  category_name,
  category_full_name,
  // The product columns end here; the variant columns follow.
  v_item,
  v_present,
  v_id,
  v_sku,
  v_title,
  v_price,
  v_compare_at_price,
  v_position,
  v_option1,
  v_option2,
  v_option3,
  v_barcode,
  v_inventory_quantity,
  v_updated_at,
};
static_assert(v_updated_at + 1 == product_columns::count);

// The presence bits the database numbers (shopify.field_keys(),
// 0006_convergence.sql): all but the category's, which a trimmed state
// carries when its document has the key.
constexpr std::uint32_t database_fields = model::pf_all & ~std::uint32_t{model::pf_category};
static_assert(database_fields == (1U << 10) - 1);

// Bit 10 of p_present: a whole state, every field of the product and of
// each variant (see 0006_convergence.sql, put_products).
constexpr std::uint32_t whole_state_bit = 1U << 10;

} // namespace

void product_columns::add_state(const model::product_state& s, std::string_view source,
                                model::timestamp observed, std::int64_t slot) {
  auto& c = column_;
  const bool whole = model::is_whole(s);
  c[version_updated_at].add(s.updated_at);
  c[observed_at].add(observed);
  c[deleted_at].add_null();
  c[present].add(std::int64_t{(s.present & database_fields) | (whole ? whole_state_bit : 0U)});
  c[title].add(s.title);
  c[handle].add(s.handle);
  c[vendor].add(s.vendor);
  c[product_type].add(s.product_type);
  c[status].add(s.status);
  c[tags].add(join_tags(s.tags));
  c[body_html].add(s.body_html);
  c[created_at].add(s.created_at);
  c[updated_at].add(s.updated_at);
  c[published_at].add(s.published_at);
  c[column::source].add(source);
  if (whole) {
    c[fingerprint].add(model::content_fingerprint(s));
  } else {
    c[fingerprint].add_null();
  }
  if (s.category) {
    c[category_id].add(s.category->id);
    c[category_name].add(s.category->name);
    c[category_full_name].add(s.category->full_name);
  } else {
    c[category_id].add_null();
    c[category_name].add_null();
    c[category_full_name].add_null();
  }
  for (const model::variant_state& v : s.variants) {
    c[v_item].add(slot);
    c[v_present].add(std::int64_t{v.present});
    c[v_id].add(v.id);
    c[v_sku].add(v.sku);
    c[v_title].add(v.title);
    c[v_price].add(v.price);
    c[v_compare_at_price].add(v.compare_at_price);
    c[v_position].add(v.position ? std::optional<std::int64_t>(*v.position) : std::nullopt);
    c[v_option1].add(v.option1);
    c[v_option2].add(v.option2);
    c[v_option3].add(v.option3);
    c[v_barcode].add(v.barcode);
    c[v_inventory_quantity].add(v.inventory_quantity);
    c[v_updated_at].add(v.updated_at);
  }
}

void product_columns::add_delete(model::timestamp observed) {
  // A delete carries no updated_at: its version is the time Shopify
  // triggered it, which is after every update of the product.
  column_[version_updated_at].add(observed);
  column_[observed_at].add(observed);
  column_[deleted_at].add(observed);
  for (std::size_t i = present; i <= category_full_name; ++i) {
    column_[i].add_null();
  }
}

void product_columns::add_none() {
  for (std::size_t i = version_updated_at; i <= category_full_name; ++i) {
    column_[i].add_null();
  }
}

void product_columns::take_into(std::vector<std::string>& out) {
  for (auto& column : column_) {
    out.push_back(column.take());
  }
}

} // namespace shopmirror::db
