#include "tests/support/payloads.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string_view>

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

namespace {

// The body is assembled from literal pieces and numbers: the load generator
// builds one per request, and formatting it with snprintf was a fifth of
// its CPU, which it takes from the service it measures on a shared machine.
class body_text {
public:
  explicit body_text(std::size_t capacity) { text_.reserve(capacity); }

  body_text& operator<<(std::string_view piece) {
    text_ += piece;
    return *this;
  }
  body_text& operator<<(long long number) { return zero_padded(number, 0); }
  body_text& operator<<(int number) { return *this << static_cast<long long>(number); }
  /// As printf's `%0*lld` for a number that is not negative.
  body_text& zero_padded(long long number, std::size_t width) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
    const auto length = static_cast<std::size_t>(end - digits);
    if (length < width) {
      text_.append(width - length, '0');
    }
    text_.append(digits, end);
    return *this;
  }
  std::string take() { return std::move(text_); }

private:
  std::string text_;
};

} // namespace

std::string product_body(std::int64_t id, int version, int variants, workload w) {
  const int edit = edit_of(w, version);
  const std::string updated = updated_at_of(edit);
  const auto product = static_cast<long long>(id);
  body_text body(1200 + static_cast<std::size_t>(variants) * 700);
  body
      << R"({"admin_graphql_api_id":"gid:\/\/shopify\/Product\/)" << product
      << R"(","body_html":"<p>Soft cotton tee, version )" << edit
      << R"(. Breathable, pre-shrunk and cut for an easy fit; machine wash cold, tumble dry low. Ships in recycled packaging.<\/p>","created_at":"2025-06-01T10:00:00-04:00","handle":"tee-)"
      << product << R"(","id":)" << product
      << R"(,"product_type":"Shirts","published_at":"2025-06-02T10:00:00-04:00","template_suffix":null,"title":"Everyday Tee )"
      << product << " v" << edit << R"(","updated_at":")" << updated
      << R"(","vendor":"Acme Apparel","status":"active","published_scope":"web","tags":"cotton, everyday, summer, tee","variants":[)";
  for (int v = 1; v <= variants; ++v) {
    const long long variant_id = product * 1000 + v;
    const int inventory = inventory_at(w, version, v, variants);
    body << (v == 1 ? "" : ",") << R"({"admin_graphql_api_id":"gid:\/\/shopify\/ProductVariant\/)"
         << variant_id << R"(","barcode":"0)";
    body.zero_padded(variant_id, 11)
        << R"(","compare_at_price":"34.99","created_at":"2025-06-01T10:00:00-04:00","fulfillment_service":"manual","grams":180,"id":)"
        << variant_id << R"(,"inventory_item_id":)" << variant_id + 500000000
        << R"(,"inventory_management":"shopify","inventory_policy":"deny","inventory_quantity":)"
        << inventory << R"(,"old_inventory_quantity":)" << inventory << R"(,"option1":"Size )" << v
        << R"(","option2":"Colour )" << v % 5 << R"(","option3":null,"position":)" << v
        << R"(,"price":")" << 20 + v % 10 << R"(.99","product_id":)" << product
        << R"(,"requires_shipping":true,"sku":"TEE-)" << product << "-" << v
        << R"(","taxable":true,"title":"Size )" << v << R"( \/ Colour )" << v % 5
        << R"(","updated_at":")" << updated
        << R"(","weight":0.18,"weight_unit":"kg","image_id":null})";
  }
  body
      << R"(],"options":[{"id":)" << product * 7 << R"(,"product_id":)" << product
      << R"(,"name":"Size","position":1,"values":["S","M","L"]}],"images":[],"image":null,"media":[],"has_variants_that_requires_components":false,"category":null})";
  return body.take();
}

} // namespace shopmirror::test
