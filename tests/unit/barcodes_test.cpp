// Variants' barcodes (API 2026-10): the GraphQL node and bulk JSONL
// readers, the JSON the mirror stores, and which API versions have them.

#include "model/variant_barcodes.hpp"
#include "reconcile/barcodes.hpp"
#include "reconcile/bulk_jsonl.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace shopmirror;

namespace {

std::variant<model::variant_barcodes, model::graphql_error> map_text(const std::string& text,
                                                                     bool required = true) {
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  REQUIRE_FALSE(document.HasParseError());
  return model::map_graphql_variant_barcodes(document, required);
}

std::string error_of(const std::string& text) {
  const auto mapped = map_text(text);
  REQUIRE(std::holds_alternative<model::graphql_error>(mapped));
  return std::get<model::graphql_error>(mapped).reason;
}

const std::string variant_head =
    R"({"id":"gid://shopify/ProductVariant/7","product":{"id":"gid://shopify/Product/3"},)";

struct read_result {
  std::vector<model::variant_barcodes> variants;
  std::vector<std::string> failures;
  std::size_t lines = 0;
  std::size_t roots = 0;
  std::size_t unreadable = 0;
};

/// Feeds `jsonl` to a reader `piece` bytes at a time.
read_result read_bulk(const std::string& jsonl, std::size_t piece) {
  read_result out;
  reconcile::bulk_barcodes_reader reader(
      [&](model::variant_barcodes v) { out.variants.push_back(std::move(v)); },
      [&](std::string reason) { out.failures.push_back(std::move(reason)); });
  for (std::size_t at = 0; at < jsonl.size(); at += piece) {
    reader.feed(std::string_view(jsonl).substr(at, piece));
  }
  reader.finish();
  out.lines = reader.lines();
  out.roots = reader.roots();
  out.unreadable = reader.unreadable();
  return out;
}

} // namespace

TEST_SUITE("reconcile") {

  TEST_CASE("a productVariants node of API 2026-10 maps to its variant's barcodes in order") {
    const auto mapped = map_text(test::fixture("shopify/graphql-variant-barcodes.2026-10.json"));
    REQUIRE(std::holds_alternative<model::variant_barcodes>(mapped));
    const auto& v = std::get<model::variant_barcodes>(mapped);
    CHECK(v.variant_id == 808950810);
    CHECK(v.product_id == 632910392);
    CHECK(v.barcodes ==
          std::vector<model::barcode>{{"UPC", "012345678905"}, {std::nullopt, "1234_pink"}});
    CHECK(model::barcodes_json(v.barcodes) ==
          R"([{"type":"UPC","value":"012345678905"},{"type":null,"value":"1234_pink"}])");
    CHECK(model::barcodes_json({}) == "[]");
  }

  TEST_CASE("a barcodes node the mirror cannot store is refused with the field named") {
    CHECK(error_of(R"({"id":"gid://shopify/Product/7","product":{"id":"gid://shopify/Product/3"},)"
                   R"("barcodes":{"nodes":[]}})")
              .find("ProductVariant gid") != std::string::npos);
    CHECK(error_of(R"({"id":"gid://shopify/ProductVariant/7","barcodes":{"nodes":[]}})")
              .find("product") != std::string::npos);
    CHECK(error_of(variant_head + R"("barcodes":null})").find("barcodes.nodes") !=
          std::string::npos);
    const std::string without_barcodes = variant_head.substr(0, variant_head.size() - 1) + "}";
    CHECK(error_of(without_barcodes).find("barcodes is missing") != std::string::npos);
    CHECK(error_of(variant_head + R"("barcodes":{"nodes":[{"type":"UPC","value":null}]}})")
              .find("value is missing") != std::string::npos);
    CHECK(
        error_of(variant_head + R"("barcodes":{"nodes":[{"type":7,"value":"x"}]}})").find("type") !=
        std::string::npos);
    CHECK(error_of(variant_head + R"("barcodes":{"nodes":[{"type":null,"value":"a\u0000b"}]}})")
              .find("NUL") != std::string::npos);
    CHECK(error_of(variant_head +
                   "\"barcodes\":{\"nodes\":[{\"type\":null,\"value\":\"\xC3\x28\"}]}}")
              .find("UTF-8") != std::string::npos);
    std::string many = variant_head + R"("barcodes":{"nodes":[)";
    for (int i = 0; i < 21; ++i) {
      many += (i > 0 ? "," : "") + std::string(R"({"type":null,"value":"v)") + std::to_string(i) +
              "\"}";
    }
    CHECK(error_of(many + "]}}").find("more than 20") != std::string::npos);
    // A bulk line of a variant has no barcodes: they follow as lines.
    const auto line = map_text(without_barcodes, false);
    REQUIRE(std::holds_alternative<model::variant_barcodes>(line));
    CHECK(std::get<model::variant_barcodes>(line).barcodes.empty());
  }

  TEST_CASE("a bulk barcodes result joins each variant with the lines that follow it") {
    const std::string jsonl = test::fixture("shopify/bulk-variant-barcodes.2026-10.jsonl");
    for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, jsonl.size()}) {
      CAPTURE(piece);
      const read_result r = read_bulk(jsonl, piece);
      CHECK(r.failures.empty());
      REQUIRE(r.variants.size() == 3);
      CHECK(r.variants[0].variant_id == 808950810);
      CHECK(r.variants[0].barcodes.size() == 2);
      CHECK(r.variants[1].variant_id == 49148385);
      CHECK(r.variants[1].barcodes.empty());
      CHECK(r.variants[2].barcodes == std::vector<model::barcode>{{"EAN", "4006381333931"}});
      CHECK(r.lines == 6);
      CHECK(r.roots == 3);
      CHECK(r.unreadable == 0);
    }
  }

  TEST_CASE("a damaged bulk barcodes result fails the variants it touches and goes on") {
    const std::string v1 =
        R"({"id":"gid://shopify/ProductVariant/1","product":{"id":"gid://shopify/Product/9"}})";
    const std::string v2 =
        R"({"id":"gid://shopify/ProductVariant/2","product":{"id":"gid://shopify/Product/9"}})";
    const std::string of_v1 =
        R"({"type":null,"value":"A","__parentId":"gid://shopify/ProductVariant/1"})";
    const std::string of_v3 =
        R"({"type":null,"value":"C","__parentId":"gid://shopify/ProductVariant/3"})";
    // v1's second line cannot be parsed: v1 may have lost a barcode, so it
    // fails; v2 stands; a barcode of a variant that is not the one being read
    // fails on its own.
    const read_result r =
        read_bulk(v1 + "\n" + of_v1 + "\n{not json\n" + v2 + "\n" + of_v3 + "\n", 5);
    REQUIRE(r.variants.size() == 1);
    CHECK(r.variants[0].variant_id == 2);
    CHECK(r.failures.size() == 3);
    CHECK(r.lines == 5);
    CHECK(r.roots == 2);
    CHECK(r.unreadable == 1);
  }

  TEST_CASE("barcodes are listed from API 2026-10 on") {
    CHECK_FALSE(reconcile::has_barcodes("2026-07"));
    CHECK_FALSE(reconcile::has_barcodes("2025-10"));
    CHECK(reconcile::has_barcodes("2026-10"));
    CHECK(reconcile::has_barcodes("2027-01"));
    CHECK(reconcile::has_barcodes("unstable"));
    CHECK_FALSE(reconcile::has_barcodes(""));
  }

} // TEST_SUITE
