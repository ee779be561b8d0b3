// The generated data that benchmarks and tests share: the load generator's
// webhook bodies, and the reconcile's catalog, deterministic and shaped like
// a real store's.

#include "model/fingerprint.hpp"
#include "model/webhook_payload.hpp"
#include "tests/support/catalog.hpp"
#include "tests/support/payloads.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <set>

using namespace shopmirror;

TEST_SUITE("support") {

  TEST_CASE("the inventory workload changes one variant's inventory a version and moves updated_at "
            "only on edits") {
    const auto state = [](int version, int variants) {
      const auto mapped = model::map_product_webhook(
          model::product_topic::update,
          test::product_body(42, version, variants, test::workload::inventory));
      REQUIRE(std::holds_alternative<model::product_state>(mapped));
      return std::get<model::product_state>(mapped);
    };
    for (const int variants : {1, 3, 7}) {
      CAPTURE(variants);
      int edits = 0;
      for (int version = 2; version <= 40; ++version) {
        CAPTURE(version);
        const auto before = state(version - 1, variants);
        const auto after = state(version, variants);
        int changed = 0;
        for (std::size_t v = 0; v < after.variants.size(); ++v) {
          changed += after.variants[v].inventory_quantity != before.variants[v].inventory_quantity;
        }
        CHECK(changed == 1);
        const bool edit = after.updated_at != before.updated_at;
        CHECK(edit == (after.title != before.title));
        CHECK(edit == (version % 10 == 1));
        edits += edit ? 1 : 0;
      }
      CHECK(edits == 3); // versions 11, 21 and 31
    }
    // The worst workload moves everything every version.
    const auto worst = [](int version) {
      return std::get<model::product_state>(model::map_product_webhook(
          model::product_topic::update, test::product_body(42, version, 3)));
    };
    CHECK(worst(5).updated_at != worst(4).updated_at);
    CHECK(test::parse_workload("inventory") == test::workload::inventory);
    CHECK_FALSE(test::parse_workload("most"));
  }

  TEST_CASE("the load generator's bodies are whole states, as Shopify's are") {
    // A body that lacked a field Shopify sends (the category, say) would be
    // a trimmed state, and the benchmarks would measure the wrong path.
    for (const int variants : {1, 5, 100}) {
      CAPTURE(variants);
      const auto mapped = model::map_product_webhook(model::product_topic::update,
                                                     test::product_body(42, 3, variants));
      REQUIRE(std::holds_alternative<model::product_state>(mapped));
      const auto& state = std::get<model::product_state>(mapped);
      CHECK(model::is_whole(state));
      CHECK(state.variants.size() == static_cast<std::size_t>(variants));
    }
  }

  TEST_CASE("generated catalog products are the same for the same seed and index") {
    CHECK(test::catalog_product(42) == test::catalog_product(42));
    CHECK(test::catalog_product(42, {7}) == test::catalog_product(42, {7}));
    CHECK_FALSE(test::catalog_product(42, {7}) == test::catalog_product(42, {8}));
    CHECK_FALSE(test::catalog_product(42) == test::catalog_product(43));
  }

  TEST_CASE("generated catalog is skewed toward few variants with a tail up to 100") {
    const std::regex money(R"(\d+\.\d\d)");
    std::set<std::int64_t> variant_ids;
    std::int64_t last_id = 0;
    int few = 0;
    int many = 0;
    std::size_t smallest_body = SIZE_MAX;
    std::size_t largest_body = 0;
    int drafts = 0;
    const int products = 5000;
    for (int i = 0; i < products; ++i) {
      const auto p = test::catalog_product(static_cast<std::size_t>(i));
      CHECK(p.id > last_id);
      last_id = p.id;
      const auto n = p.variants.size();
      REQUIRE(n >= 1);
      REQUIRE(n <= 100);
      few += n <= 10 ? 1 : 0;
      many += n > 30 ? 1 : 0;
      smallest_body = std::min(smallest_body, p.body_html->size());
      largest_body = std::max(largest_body, p.body_html->size());
      CHECK(std::is_sorted(p.tags.begin(), p.tags.end()));
      CHECK(std::adjacent_find(p.tags.begin(), p.tags.end()) == p.tags.end());
      CHECK(p.published_at.has_value() == (*p.status == "active"));
      drafts += *p.status == "draft" ? 1 : 0;
      std::set<std::string> titles;
      for (const auto& v : p.variants) {
        CHECK(variant_ids.insert(v.id).second);
        CHECK(std::regex_match(*v.price, money));
        CHECK(titles.insert(*v.title).second);
        CHECK(*v.position == static_cast<int>(&v - p.variants.data()) + 1);
      }
    }
    CHECK(few > products * 8 / 10);
    CHECK(many > 0);
    CHECK(smallest_body < 600);
    CHECK(largest_body > 3000);
    CHECK(drafts > 0);
  }

} // TEST_SUITE
