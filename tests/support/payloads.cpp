#include "tests/support/payloads.hpp"

#include <algorithm>
#include <cstdio>

namespace shopmirror::test {

int variant_count(std::mt19937_64& random) {
  // 85 % of products: 1-6 variants (a 3-5 KB body); 12 %: up to 30; 3 %: up to 100.
  const double p = std::uniform_real_distribution<double>(0, 1)(random);
  if (p < 0.85) {
    return std::uniform_int_distribution<int>(1, 6)(random);
  }
  if (p < 0.97) {
    return std::uniform_int_distribution<int>(7, 30)(random);
  }
  return std::uniform_int_distribution<int>(31, 100)(random);
}

std::string updated_at_of(int version) {
  const int day = 1 + version / 86400;
  const int rest = version % 86400;
  char text[40];
  std::snprintf(text, sizeof text, "2026-%02d-%02dT%02d:%02d:%02dZ", 1 + (day - 1) / 28,
                1 + (day - 1) % 28, rest / 3600, rest / 60 % 60, rest % 60);
  return text;
}

std::optional<workload> parse_workload(std::string_view name) {
  if (name == "worst") {
    return workload::worst;
  }
  if (name == "inventory") {
    return workload::inventory;
  }
  return std::nullopt;
}

int edit_of(workload w, int version) {
  return w == workload::worst || version < 1 ? version : version - (version - 1) % 10;
}

int inventory_at(workload w, int version, int v, int variants) {
  if (w == workload::worst) {
    return (version * 7 + v) % 500;
  }
  // Variant v changes at the versions congruent to it modulo the count: its
  // inventory is that of the last such version.
  const int last = version - ((version - v) % variants + variants) % variants;
  return (std::max(last, 0) * 7 + v) % 500;
}

std::string product_body(std::int64_t id, int version, int variants, workload w) {
  const int edit = edit_of(w, version);
  const std::string updated = updated_at_of(edit);
  std::string body;
  body.reserve(1200 + static_cast<std::size_t>(variants) * 700);
  char head[1600];
  std::snprintf(
      head, sizeof head,
      R"({"admin_graphql_api_id":"gid:\/\/shopify\/Product\/%lld","body_html":"<p>Soft cotton tee, version %d. Breathable, pre-shrunk and cut for an easy fit; machine wash cold, tumble dry low. Ships in recycled packaging.<\/p>","created_at":"2025-06-01T10:00:00-04:00","handle":"tee-%lld","id":%lld,"product_type":"Shirts","published_at":"2025-06-02T10:00:00-04:00","template_suffix":null,"title":"Everyday Tee %lld v%d","updated_at":"%s","vendor":"Acme Apparel","status":"active","published_scope":"web","tags":"cotton, everyday, summer, tee","variants":[)",
      static_cast<long long>(id), edit, static_cast<long long>(id), static_cast<long long>(id),
      static_cast<long long>(id), edit, updated.c_str());
  body += head;
  for (int v = 1; v <= variants; ++v) {
    const long long variant_id = id * 1000 + v;
    char variant[900];
    std::snprintf(
        variant, sizeof variant,
        R"(%s{"admin_graphql_api_id":"gid:\/\/shopify\/ProductVariant\/%lld","barcode":"0%011lld","compare_at_price":"34.99","created_at":"2025-06-01T10:00:00-04:00","fulfillment_service":"manual","grams":180,"id":%lld,"inventory_item_id":%lld,"inventory_management":"shopify","inventory_policy":"deny","inventory_quantity":%d,"old_inventory_quantity":%d,"option1":"Size %d","option2":"Colour %d","option3":null,"position":%d,"price":"%d.99","product_id":%lld,"requires_shipping":true,"sku":"TEE-%lld-%d","taxable":true,"title":"Size %d \/ Colour %d","updated_at":"%s","weight":0.18,"weight_unit":"kg","image_id":null})",
        v == 1 ? "" : ",", variant_id, variant_id, variant_id, variant_id + 500000000,
        inventory_at(w, version, v, variants), inventory_at(w, version, v, variants), v, v % 5, v,
        20 + v % 10, static_cast<long long>(id), static_cast<long long>(id), v, v, v % 5,
        updated.c_str());
    body += variant;
  }
  char tail[700];
  std::snprintf(
      tail, sizeof tail,
      R"(],"options":[{"id":%lld,"product_id":%lld,"name":"Size","position":1,"values":["S","M","L"]}],"images":[],"image":null,"media":[],"has_variants_that_requires_components":false,"category":null})",
      static_cast<long long>(id) * 7, static_cast<long long>(id));
  body += tail;
  return body;
}

} // namespace shopmirror::test
