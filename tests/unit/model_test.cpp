#include "model/fingerprint.hpp"
#include "model/json_fields.hpp"
#include "model/timestamp.hpp"
#include "model/webhook_payload.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <random>

using namespace shopmirror;
using model::product_topic;

namespace {

model::timestamp at(const char* text) {
  const auto t = model::parse_rfc3339(text);
  REQUIRE(t);
  return *t;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += digits[c >> 4U];
    out += digits[c & 15U];
  }
  return out;
}

model::product_state as_state(const model::product_payload& payload) {
  if (const auto* error = std::get_if<model::payload_error>(&payload)) {
    FAIL("mapping failed: " << error->reason);
  }
  REQUIRE(std::holds_alternative<model::product_state>(payload));
  return std::get<model::product_state>(payload);
}

std::string error_of(const model::product_payload& payload) {
  REQUIRE(std::holds_alternative<model::payload_error>(payload));
  return std::get<model::payload_error>(payload).reason;
}

// The REST GET fixture wraps the product in {"product": ...}.
std::string unwrap_product(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  document["product"].Accept(writer);
  return buffer.GetString();
}

} // namespace

TEST_SUITE("model") {

  TEST_CASE("RFC 3339 times with offsets and fractions") {
    CHECK(at("1970-01-01T00:00:00Z").micros_since_epoch == 0);
    CHECK(at("2021-12-31T19:00:00-05:00") == at("2022-01-01T00:00:00Z"));
    CHECK(at("2023-03-29T18:00:27.877041743Z").micros_since_epoch ==
          at("2023-03-29T18:00:27Z").micros_since_epoch + 877041);
    CHECK(at("2024-02-29T12:00:00.5+01:30").micros_since_epoch ==
          at("2024-02-29T10:30:00Z").micros_since_epoch + 500000);
    CHECK(model::format_rfc3339(at("2021-12-31T19:00:00-05:00")) == "2022-01-01T00:00:00.000000Z");
    CHECK(model::format_rfc3339(at("1969-12-31T23:59:59.999999Z")) ==
          "1969-12-31T23:59:59.999999Z");
    for (const char* bad : {"", "2021-12-31", "2021-12-31T19:00:00", "2021-13-01T00:00:00Z",
                            "2023-02-29T00:00:00Z", "2021-12-31T24:00:00Z", "2021-12-31T23:59:60Z",
                            "2021-12-31T19:00:00.Z", "2021-12-31T19:00:00.1234567890Z",
                            "2021-12-31T19:00:00+5:00", "2021-12-31T19:00:00Zjunk", "abcd"}) {
      CAPTURE(bad);
      CHECK_FALSE(model::parse_rfc3339(bad));
    }
  }

  TEST_CASE("Shopify's products/create sample maps exactly") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::create,
        test::fixture("shopify/products-create.shopify-reference-sample.json")));
    CHECK(state.id == 788032119674292922); // above 2^53: exact, never a double
    CHECK(state.title == "Example T-Shirt");
    CHECK(state.handle == "example-t-shirt");
    CHECK(state.vendor == "Acme");
    CHECK(state.product_type == "Shirts");
    CHECK(state.status == "active");
    CHECK(state.body_html == "An example T-Shirt");
    CHECK(state.tags == std::vector<std::string>{"example", "mens", "t-shirt"});
    CHECK_FALSE(state.created_at);
    CHECK(state.updated_at == at("2022-01-01T00:00:00Z"));
    CHECK(state.published_at == at("2022-01-01T00:00:00Z"));
    CHECK(state.present == model::pf_all);
    REQUIRE(state.variants.size() == 2);
    const auto& small = state.variants[0];
    CHECK(small.id == 642667041472713922);
    CHECK(small.title == "Small");
    CHECK(small.price == "19.99");
    CHECK(small.compare_at_price == "24.99");
    CHECK(small.position == 1);
    CHECK(small.option1 == "Small");
    CHECK_FALSE(small.option2);
    CHECK_FALSE(small.sku);
    CHECK_FALSE(small.barcode);
    CHECK(small.inventory_quantity == 75);
    CHECK(small.updated_at == at("2021-12-31T00:00:00Z"));
    CHECK(small.present == model::vf_all);
    CHECK(state.variants[1].id == 757650484644203962);
    CHECK(state.variants[1].inventory_quantity == 50);
  }

  TEST_CASE("Shopify's products/delete sample is a delete of that id") {
    const auto payload = model::map_product_webhook(
        product_topic::remove,
        test::fixture("shopify/products-delete.shopify-reference-sample.json"));
    REQUIRE(std::holds_alternative<model::delete_product>(payload));
    CHECK(std::get<model::delete_product>(payload).product_id == 788032119674292922);
  }

  TEST_CASE("the documented products/update example maps - absent fields marked absent") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::update,
        test::fixture("shopify/products-update.shopify-docs-delivery-structure.json")));
    CHECK(state.id == 9554194432293);
    CHECK(state.title == "T-Shirt");
    CHECK(state.tags == std::vector<std::string>{"comfortable", "cotton"});
    CHECK(state.updated_at == at("2025-04-22T19:30:00Z"));
    CHECK((state.present & model::pf_handle) == 0);
    CHECK((state.present & model::pf_body_html) == 0);
    CHECK((state.present & model::pf_title) != 0);
    CHECK((state.present & model::pf_variants) != 0);
    REQUIRE(state.variants.size() == 1);
    CHECK(state.variants[0].sku == "TSHIRT-001");
    CHECK(state.variants[0].price == "29.99");
    CHECK((state.variants[0].present & model::vf_position) == 0);
  }

  TEST_CASE("an include_fields payload carries only what was asked for") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::update,
        test::fixture("shopify/products-update.shopify-docs-include_fields.json")));
    CHECK(state.present == model::pf_variants);
    REQUIRE(state.variants.size() == 1);
    CHECK(state.variants[0].id == 123456789);
    CHECK(state.variants[0].present == model::vf_price);
    CHECK(state.variants[0].price == "29.99");
  }

  TEST_CASE("the REST product fixture maps like a webhook body") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::update,
        unwrap_product(
            test::fixture("shopify/rest-product-get.shopify-app-js-2026-07-test_9.json"))));
    CHECK(state.id == 632910392);
    CHECK(state.tags == std::vector<std::string>{"Emotive", "Flash Memory", "MP3", "Music"});
    REQUIRE(state.variants.size() == 4);
    CHECK(state.variants[0].barcode == "1234_pink");
    CHECK(state.variants[3].id == 457924702);
    CHECK(state.variants[3].inventory_quantity == 40);
    CHECK(state.variants[0].sku == "IPOD2008PINK");
    CHECK(state.variants[0].price == "199.00");
    CHECK(state.variants[2].inventory_quantity == 30);
    CHECK_FALSE(state.variants[0].compare_at_price);
  }

  TEST_CASE("ids are exact 64-bit integers") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::update,
        R"({"id":9007199254740993,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":9223372036854775807}]})"));
    CHECK(state.id == 9007199254740993); // 2^53 + 1
    CHECK(state.variants[0].id == 9223372036854775807);
    CHECK(error_of(model::map_product_webhook(product_topic::update,
                                              R"({"id":9223372036854775808})"))
              .find("no product id") != std::string::npos); // 2^63
    CHECK(error_of(model::map_product_webhook(product_topic::update, R"({"id":"123"})"))
              .find("no product id") != std::string::npos);
    CHECK(error_of(model::map_product_webhook(product_topic::update, R"({"id":1.5})"))
              .find("no product id") != std::string::npos);
    CHECK(error_of(model::map_product_webhook(product_topic::update, R"({"id":-4})"))
              .find("no product id") != std::string::npos);
    CHECK(error_of(model::map_product_webhook(product_topic::update, R"({"title":"x"})"))
              .find("no product id") != std::string::npos);
    CHECK(error_of(model::map_product_webhook(product_topic::remove, R"({"id":null})"))
              .find("no product id") != std::string::npos);
  }

  TEST_CASE("a bare id is a stub that asks for a refresh") {
    const auto payload =
        model::map_product_webhook(product_topic::update, R"({"id":788032119674292922})");
    REQUIRE(std::holds_alternative<model::refresh_product>(payload));
    CHECK(std::get<model::refresh_product>(payload).product_id == 788032119674292922);
  }

  TEST_CASE("prices are exact decimal strings") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::update,
        R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":2,"price":"0.1000000000000000055511151231257827"},{"id":3,"price":"12"}]})"));
    CHECK(state.variants[0].price == "0.1000000000000000055511151231257827");
    CHECK(state.variants[1].price == "12");
    for (const char* bad : {R"("abc")", R"(19.99)", R"("1e5")", R"(".5")", R"("5.")", R"(true)"}) {
      CAPTURE(bad);
      const std::string body =
          std::string(
              R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":2,"price":)") +
          bad + "}]}";
      CHECK(error_of(model::map_product_webhook(product_topic::update, body))
                .find("variants[0]: price") != std::string::npos);
    }
  }

  TEST_CASE("tags are split and trimmed and sorted") {
    CHECK(model::split_tags("") == std::vector<std::string>{});
    CHECK(model::split_tags(" , ,") == std::vector<std::string>{});
    CHECK(model::split_tags("a") == std::vector<std::string>{"a"});
    CHECK(model::split_tags("  spaced out ,\tx\n,y ") ==
          std::vector<std::string>{"spaced out", "x", "y"});
    const auto state = as_state(model::map_product_webhook(
        product_topic::update,
        R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","tags":"zeta, alpha,mid"})"));
    CHECK(state.tags == std::vector<std::string>{"alpha", "mid", "zeta"});
  }

  TEST_CASE("signed garbage becomes a reason - never a crash") {
    const auto reason = [](std::string_view body) {
      return error_of(model::map_product_webhook(product_topic::update, body));
    };
    CHECK(reason("").find("malformed JSON") != std::string::npos);
    CHECK(reason("{\"id\":1,").find("malformed JSON") != std::string::npos);
    CHECK(reason("[1,2]").find("not a JSON object") != std::string::npos);
    CHECK(reason("null").find("not a JSON object") != std::string::npos);
    CHECK(reason(R"({"id":1} trailing)").find("malformed JSON") != std::string::npos);
    // RapidJSON reads a raw NUL byte as the end of its input: without a check
    // of its own this body would map, and its source would not be the JSON
    // that was read.
    CHECK(reason(std::string_view("{\"id\":1,\"updated_at\":\"2026-01-01T00:00:00Z\"}\0junk", 49))
              .find("NUL byte at offset 44") != std::string::npos);
    CHECK(
        reason(R"({"id":1,"title":"a\u0000b","updated_at":"2026-01-01T00:00:00Z"})").find("NUL") !=
        std::string::npos);
    CHECK(reason("{\"id\":1,\"title\":\"\xff\xfe\"}").find("malformed JSON") != std::string::npos);
    CHECK(reason(R"({"id":1,"id":2})").find("duplicate key") != std::string::npos);
    CHECK(reason(R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","title":"a","title":"b"})")
              .find("duplicate key") != std::string::npos);
    CHECK(reason(R"({"id":1,"updated_at":"yesterday"})").find("updated_at") != std::string::npos);
    CHECK(reason(R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":{}})")
              .find("variants is not an array") != std::string::npos);
    CHECK(reason(R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[null]})")
              .find("variants[0] is not an object") != std::string::npos);
    CHECK(reason(R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":5},{"id":5}]})")
              .find("appears twice") != std::string::npos);
    CHECK(reason(R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","title":5})")
              .find("title is not a string") != std::string::npos);
    // A variant's field is named with the variant's place in the list.
    CHECK(
        reason(
            R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":2},{"id":3,"price":true}]})") ==
        "variants[1]: price is not a decimal string");
    CHECK(
        reason(
            R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":2,"sku":"a","sku":"b"}]})") ==
        "variants[0]: duplicate key \"sku\"");
    CHECK(reason(R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":-2}]})") ==
          "variants[0]: id is missing or not a positive 64-bit integer");
    CHECK(
        reason(
            R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":[{"id":2,"position":4294967296}]})")
            .find("position") != std::string::npos);

    // 200,000 levels of nesting: refused before parsing, never recursed into
    // (PostgreSQL's jsonb input would recurse, and fail, on the source document).
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    CHECK(reason(deep).find("nests deeper than 64") != std::string::npos);
    const std::string deep_in_object =
        "{\"id\":1,\"updated_at\":\"2026-01-01T00:00:00Z\",\"x\":" + std::string(200000, '[') +
        std::string(200000, ']') + "}";
    CHECK(reason(deep_in_object).find("nests deeper than 64") != std::string::npos);
    // The parse stops at the limit, before it could find that the brackets
    // are never closed.
    CHECK(reason(std::string(100, '[')).find("nests deeper") != std::string::npos);
    CHECK(reason(std::string(64, '[')).find("malformed JSON") != std::string::npos);
  }

  TEST_CASE("nesting is counted outside strings only - up to the limit a payload maps") {
    // Brackets inside strings are text.
    CHECK(std::holds_alternative<model::product_state>(model::map_product_webhook(
        product_topic::update, R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","title":")" +
                                   std::string(200, '[') + R"("})")));
    const auto levels = [](std::size_t n) {
      // The product object is level 1; `x` adds n - 1 more.
      return "{\"id\":1,\"updated_at\":\"2026-01-01T00:00:00Z\",\"x\":" + std::string(n - 1, '[') +
             std::string(n - 1, ']') + "}";
    };
    CHECK(std::holds_alternative<model::product_state>(
        model::map_product_webhook(product_topic::update, levels(model::json::max_nesting))));
    CHECK(std::holds_alternative<model::payload_error>(
        model::map_product_webhook(product_topic::update, levels(model::json::max_nesting + 1))));
  }

  TEST_CASE("UTF-8 is checked as RFC 3629 says - exactly what RapidJSON's own check accepts") {
    const auto accepted = [](const std::string& bytes) {
      return model::json::parsed_object("{\"t\":\"" + bytes + "\"}").error().empty();
    };
    // The edges of each sequence length, and what lies just past them.
    for (const char* valid :
         {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
          "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "Gr\xc3\xbc\xc3\x9f\x65"}) {
      CHECK_MESSAGE(accepted(valid), "refused: " << valid);
    }
    for (const char* invalid :
         {"\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
          "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\x80", "\xe2\x82",
          "\xc3", "abcdefg\xc3"}) {
      CHECK_MESSAGE(!accepted(invalid), "accepted: " << invalid);
    }
    // Random byte strings, placed at every alignment of the eight-byte ASCII
    // steps: the check agrees with RapidJSON's validating parse on each.
    std::mt19937_64 random(20261204);
    std::uniform_int_distribution<int> length(1, 12);
    std::uniform_int_distribution<int> byte(0x20, 0xff);
    std::size_t disagreements = 0;
    std::size_t refused = 0;
    for (int n = 0; n < 20000; ++n) {
      std::string bytes(static_cast<std::size_t>(n % 9), 'a');
      for (int i = length(random); i > 0; --i) {
        const int b = byte(random);
        bytes += static_cast<char>(b == '"' || b == '\\' ? 'x' : b);
      }
      const std::string text = "{\"t\":\"" + bytes + "\"}";
      rapidjson::Document reference;
      reference.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
      const bool ours = accepted(bytes);
      refused += ours ? 0 : 1;
      disagreements += ours == !reference.HasParseError() ? 0 : 1;
    }
    CHECK(disagreements == 0);
    CHECK(refused > 1000); // the strings did test the refusals
  }

  TEST_CASE("a null variants list keeps the stored variants") {
    const auto state = as_state(model::map_product_webhook(
        product_topic::update, R"({"id":1,"updated_at":"2026-01-01T00:00:00Z","variants":null})"));
    CHECK((state.present & model::pf_variants) == 0);
  }
}

TEST_SUITE("model") {

  TEST_CASE("a content fingerprint sees every typed field and nothing else") {
    const auto state = [](const std::string& body) {
      return as_state(model::map_product_webhook(product_topic::update, body));
    };
    test::product_spec p{
        9,      "Mug",    "2026-01-02T03:04:05Z",
        "b, a", "active", {{7, "9.50", "MUG-1", 1, 3}, {8, "10.00", "MUG-2", 2, 4}}};
    const auto base = model::content_fingerprint(state(test::product_json(p)));
    CHECK(base.size() == 16);
    // Fingerprints stored by the releases before the category stay valid for
    // the products that have none: theirs is computed as it was.
    CHECK(hex(base) == "3c4e938fb3a489f5af5f4eddff790382");
    CHECK(model::is_whole(state(test::product_json(p))));

    // The same content, written otherwise: prices as numbers, tags and
    // variants in another order.
    auto same = p;
    same.tags = "a,b";
    same.variants[0].price = "9.5";
    same.variants[1].price = "010.000";
    std::swap(same.variants[0], same.variants[1]);
    CHECK(model::content_fingerprint(state(test::product_json(same))) == base);

    // Any change a consumer could see, even with updated_at as it was.
    const auto differs = [&](const std::function<void(test::product_spec&)>& change) {
      auto changed = p;
      change(changed);
      return model::content_fingerprint(state(test::product_json(changed))) != base;
    };
    CHECK(differs([](auto& c) { c.title = "Mug!"; }));
    CHECK(differs([](auto& c) { c.variants[0].inventory = 4; }));
    CHECK(differs([](auto& c) { c.variants[1].price = "10.01"; }));
    CHECK(differs([](auto& c) { c.variants.pop_back(); }));
    CHECK(differs([](auto& c) { c.variants[0].sku = "MUG-9"; }));
    CHECK(differs([](auto& c) { c.updated_at = "2026-01-02T03:04:06Z"; }));
    CHECK(differs([](auto& c) { c.status = "draft"; }));
    CHECK(differs([](auto& c) { c.tags = "a"; }));
    const auto with_category = [&](const std::string& category) {
      return model::content_fingerprint(state(test::product_json(p, category)));
    };
    CHECK(with_category("aa-1") != base);
    CHECK(with_category("aa-1") != with_category("aa-2"));
    CHECK(with_category("aa-1") == with_category("aa-1"));

    // A trimmed state is not whole: it has no fingerprint of its own. Nor is
    // a state without the category, which every product webhook has carried
    // since API 2024-10 (null for a product without one).
    auto no_category = test::product_json(p);
    REQUIRE(no_category.find(",\"category\":null") != std::string::npos);
    no_category.erase(no_category.find(",\"category\":null"), 16);
    CHECK_FALSE(model::is_whole(state(no_category)));
    CHECK(model::is_whole(state(test::product_json(p))));
    CHECK_FALSE(
        model::is_whole(state(R"({"id":9,"title":"Mug","updated_at":"2026-01-02T03:04:05Z"})")));
    CHECK_FALSE(model::is_whole(state(
        R"({"id":9,"title":"x","handle":"h","vendor":"v","product_type":"t","status":"active","tags":"",)"
        R"("body_html":"","created_at":null,"published_at":null,"updated_at":"2026-01-02T03:04:05Z",)"
        R"("variants":[{"id":7,"price":"1.00"}]})")));
  }

  TEST_CASE("decimals in their shortest form") {
    CHECK(model::normalized_decimal("19.90") == "19.9");
    CHECK(model::normalized_decimal("19.00") == "19");
    CHECK(model::normalized_decimal("0019.5") == "19.5");
    CHECK(model::normalized_decimal("0.0") == "0");
    CHECK(model::normalized_decimal("-0.00") == "0");
    CHECK(model::normalized_decimal("-1.10") == "-1.1");
    CHECK(model::normalized_decimal("100") == "100");
    CHECK(model::normalized_decimal("0.05") == "0.05");
  }

} // TEST_SUITE
