#include "db/product_columns.hpp"

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

void product_columns::add_state(const model::product_state& s, std::string_view source,
                                model::timestamp observed, std::int64_t slot) {
  auto& c = column_;
  c[0].add(s.updated_at);
  c[1].add(observed);
  c[2].add_null();
  c[3].add(std::int64_t{s.present});
  c[4].add(s.title);
  c[5].add(s.handle);
  c[6].add(s.vendor);
  c[7].add(s.product_type);
  c[8].add(s.status);
  c[9].add(join_tags(s.tags));
  c[10].add(s.body_html);
  c[11].add(s.created_at);
  c[12].add(s.updated_at);
  c[13].add(s.published_at);
  c[14].add(source);
  for (const model::variant_state& v : s.variants) {
    c[15].add(slot);
    c[16].add(std::int64_t{v.present});
    c[17].add(v.id);
    c[18].add(v.sku);
    c[19].add(v.title);
    c[20].add(v.price);
    c[21].add(v.compare_at_price);
    c[22].add(v.position ? std::optional<std::int64_t>(*v.position) : std::nullopt);
    c[23].add(v.option1);
    c[24].add(v.option2);
    c[25].add(v.option3);
    c[26].add(v.barcode);
    c[27].add(v.inventory_quantity);
    c[28].add(v.updated_at);
  }
}

void product_columns::add_delete(model::timestamp observed) {
  // A delete carries no updated_at: its version is the time Shopify
  // triggered it, which is after every update of the product.
  column_[0].add(observed);
  column_[1].add(observed);
  column_[2].add(observed);
  for (std::size_t i = 3; i <= 14; ++i) {
    column_[i].add_null();
  }
}

void product_columns::add_none() {
  for (std::size_t i = 0; i <= 14; ++i) {
    column_[i].add_null();
  }
}

void product_columns::take_into(std::vector<std::string>& out) {
  for (auto& column : column_) {
    out.push_back(column.take());
  }
}

} // namespace shopmirror::db
