#include "crypto/hmac.hpp"
#include "ingest/service.hpp"
#include "ingest/webhook.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

using namespace shopmirror;
namespace http = ingest::http;

namespace {

const std::string secret = "hush";
const crypto::webhook_verifier verifier({secret, "old-secret"});
const model::timestamp received{1'700'000'000'000'000};

http::fields shopify_headers(const std::string& body,
                             const std::string& topic = "products/update") {
  http::fields h;
  h.set("X-Shopify-Topic", topic);
  h.set("X-Shopify-Hmac-Sha256", crypto::shopify_signature(secret, body));
  h.set("X-Shopify-Shop-Domain", "Demo.myshopify.com");
  h.set("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
  h.set("X-Shopify-API-Version", "2026-10");
  h.set("X-Shopify-Triggered-At", "2023-03-29T18:00:27.877041743Z");
  h.set("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5");
  return h;
}

ingest::webhook_verdict classify(const http::fields& headers, const std::string& body,
                                 http::verb method = http::verb::post) {
  return ingest::classify_webhook(
      method, headers, body, verifier, 1024 * 1024, received,
      [](std::string_view shop) { return shop == "demo.myshopify.com"; });
}

const ingest::webhook_rejection& rejection(const ingest::webhook_verdict& v) {
  REQUIRE(std::holds_alternative<ingest::webhook_rejection>(v));
  return std::get<ingest::webhook_rejection>(v);
}

const model::delivery_item& delivery(const ingest::webhook_verdict& v) {
  REQUIRE(std::holds_alternative<model::delivery_item>(v));
  return std::get<model::delivery_item>(v);
}

const std::string product = test::product_json(
    {42, "Mug", "2026-01-02T03:04:05Z", "a, b", "active", {{7, "9.50", "MUG-1", 1, 3}}});

} // namespace

TEST_SUITE("ingest") {

  TEST_CASE("the DESIGN table in order: 405 then 413 then 401 then 400") {
    CHECK(rejection(classify(shopify_headers(product), product, http::verb::get)).status ==
          http::status::method_not_allowed);
    const std::string big(1024 * 1024 + 1, ' ');
    CHECK(rejection(classify(shopify_headers(big), big)).status == http::status::payload_too_large);

    auto unsigned_headers = shopify_headers(product);
    unsigned_headers.erase("X-Shopify-Hmac-Sha256");
    const auto missing_verdict = classify(unsigned_headers, product);
    const auto& missing = rejection(missing_verdict);
    CHECK(missing.status == http::status::unauthorized);
    CHECK(missing.body.empty());
    CHECK(missing.signature == crypto::signature_status::missing);

    auto wrong = shopify_headers(product);
    wrong.set("X-Shopify-Hmac-Sha256", crypto::shopify_signature("not-ours", product));
    CHECK(rejection(classify(wrong, product)).signature == crypto::signature_status::mismatch);

    // Garbage that is not signed is refused before anyone parses it: a 401,
    // not a dead letter.
    auto garbage_headers = shopify_headers("{");
    garbage_headers.set("X-Shopify-Hmac-Sha256", crypto::shopify_signature("not-ours", "{"));
    CHECK(rejection(classify(garbage_headers, "{")).status == http::status::unauthorized);

    for (const char* header :
         {"X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"}) {
      CAPTURE(header);
      auto h = shopify_headers(product);
      h.erase(header);
      const auto verdict = classify(h, product);
      const auto& r = rejection(verdict);
      CHECK(r.status == http::status::bad_request);
      CHECK(r.body.find(header) != std::string::npos);
    }
    // The configuration's rule: a shop's myshopify.com domain, in any case.
    for (const char* bad : {"evil shop/../x", "shop.example.com", "-x.myshopify.com",
                            ".myshopify.com", "a_b.myshopify.com", "myshopify.com"}) {
      CAPTURE(bad);
      auto bad_shop = shopify_headers(product);
      bad_shop.set("X-Shopify-Shop-Domain", bad);
      CHECK(rejection(classify(bad_shop, product)).status == http::status::bad_request);
    }
    auto mixed_case = shopify_headers(product);
    mixed_case.set("X-Shopify-Shop-Domain", "Demo-2.MyShopify.com");
    CHECK(delivery(classify(mixed_case, product)).meta.shop_domain == "demo-2.myshopify.com");
  }

  TEST_CASE("a signed product delivery becomes an upsert with its metadata") {
    const auto verdict = classify(shopify_headers(product), product);
    const auto& item = delivery(verdict);
    CHECK(item.meta.shop_domain == "demo.myshopify.com"); // one spelling per shop
    CHECK(item.meta.topic == "products/update");
    CHECK(item.meta.webhook_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    CHECK(item.meta.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5");
    CHECK(item.meta.api_version == "2026-10");
    REQUIRE(item.meta.triggered_at);
    CHECK(model::format_rfc3339(*item.meta.triggered_at) == "2023-03-29T18:00:27.877041Z");
    CHECK(item.meta.received_at == received);
    const auto& upsert = std::get<model::upsert_product>(item.action);
    CHECK(upsert.state.id == 42);
    CHECK(upsert.source == product); // the raw bytes, untouched
  }

  TEST_CASE("header names are case-insensitive - and both Shopify prefixes work") {
    http::fields lower;
    lower.set("x-shopify-topic", "products/update");
    lower.set("x-shopify-hmac-sha256", crypto::shopify_signature(secret, product));
    lower.set("x-shopify-shop-domain", "demo.myshopify.com");
    lower.set("x-shopify-webhook-id", "w-1");
    CHECK(std::holds_alternative<model::upsert_product>(delivery(classify(lower, product)).action));

    http::fields events;
    events.set("shopify-topic", "products/update");
    events.set("shopify-hmac-sha256", crypto::shopify_signature(secret, product));
    events.set("shopify-shop-domain", "demo.myshopify.com");
    events.set("shopify-webhook-id", "w-2");
    CHECK(delivery(classify(events, product)).meta.webhook_id == "w-2");
  }

  TEST_CASE("the previous secret still verifies during a rotation") {
    auto h = shopify_headers(product);
    h.set("X-Shopify-Hmac-Sha256", crypto::shopify_signature("old-secret", product));
    CHECK(std::holds_alternative<model::delivery_item>(classify(h, product)));
  }

  TEST_CASE("a repeated signature header is refused as malformed") {
    auto h = shopify_headers(product);
    h.insert("X-Shopify-Hmac-Sha256", crypto::shopify_signature(secret, product));
    CHECK(rejection(classify(h, product)).signature == crypto::signature_status::malformed);
  }

  TEST_CASE("other topics and stubs and deletes and dead letters") {
    const std::string orders = R"({"id":1})";
    CHECK(std::holds_alternative<model::ignore_delivery>(
        delivery(classify(shopify_headers(orders, "orders/create"), orders)).action));

    const std::string stub = R"({"id":42})";
    CHECK(std::get<model::refresh_product>(
              delivery(classify(shopify_headers(stub, "products/update"), stub)).action)
              .product_id == 42);
    CHECK(std::get<model::delete_product>(
              delivery(classify(shopify_headers(stub, "products/delete"), stub)).action)
              .product_id == 42);

    const std::string broken = R"({"id":42,"updated_at":)";
    const auto broken_verdict = classify(shopify_headers(broken), broken);
    const auto& dead = std::get<model::dead_letter>(delivery(broken_verdict).action);
    CHECK(dead.body == broken);
    CHECK(dead.reason.find("malformed JSON") != std::string::npos);

    const std::string no_id = R"({"title":"x"})";
    CHECK(std::get<model::dead_letter>(delivery(classify(shopify_headers(no_id), no_id)).action)
              .reason.find("no product id") != std::string::npos);
  }

  TEST_CASE("a product state under products/delete and a stub nobody can fetch are dead letters") {
    // The topic header is not signed: a signed product body replayed under
    // products/delete is not a delete.
    const auto replayed = classify(shopify_headers(product, "products/delete"), product);
    const auto& not_delete = std::get<model::dead_letter>(delivery(replayed).action);
    CHECK(not_delete.kind == model::dead_letter_kind::not_a_delete);
    CHECK(not_delete.product_id == std::optional<std::int64_t>(42));
    CHECK(not_delete.body == product);
    CHECK(not_delete.reason.find("not a delete") != std::string::npos);
    // Shopify's delete body, or one with a key that is no product field, is a delete.
    const std::string extra = R"({"id":42,"shop_id":7})";
    CHECK(std::holds_alternative<model::delete_product>(
        delivery(classify(shopify_headers(extra, "products/delete"), extra)).action));

    // A stub for a shop without Admin API access here: kept, not dropped.
    const std::string stub = R"({"id":42})";
    auto other = shopify_headers(stub, "products/update");
    other.set("X-Shopify-Shop-Domain", "other.myshopify.com");
    const auto verdict = classify(other, stub);
    const auto& unfetchable = std::get<model::dead_letter>(delivery(verdict).action);
    CHECK(unfetchable.kind == model::dead_letter_kind::unfetchable_stub);
    CHECK(unfetchable.product_id == std::optional<std::int64_t>(42));
    CHECK(unfetchable.body == stub);
  }

  TEST_CASE("an unreadable triggered-at falls back to the received time") {
    auto h = shopify_headers(product);
    h.set("X-Shopify-Triggered-At", "yesterday");
    const auto verdict = classify(h, product);
    const auto& item = delivery(verdict);
    CHECK_FALSE(item.meta.triggered_at);
    CHECK(item.meta.observed_at() == received);
  }

  TEST_CASE("a triggered-at later than the arrival is not believed") {
    auto h = shopify_headers(product);
    h.set("X-Shopify-Triggered-At", "2099-01-01T00:00:00Z"); // not signed: anyone may send it
    const auto verdict = classify(h, product);
    const auto& item = delivery(verdict);
    CHECK(item.meta.observed_at() == received);
    CHECK(shopify_headers(product)["X-Shopify-Triggered-At"] == "2023-03-29T18:00:27.877041743Z");
    const auto earlier_verdict = classify(shopify_headers(product), product);
    CHECK(delivery(earlier_verdict).meta.observed_at() < received);
  }

  TEST_CASE("answers once the database is done") {
    CHECK(ingest::answer_for(model::apply_outcome::applied).result() == http::status::ok);
    CHECK(ingest::answer_for(model::apply_outcome::duplicate).result() == http::status::ok);
    CHECK(ingest::answer_for(model::apply_outcome::dead_letter).result() == http::status::ok);
    const auto busy = ingest::answer_for(model::apply_outcome::retry_later);
    CHECK(busy.result() == http::status::service_unavailable);
    CHECK(busy[http::field::retry_after] == "1");
    CHECK(ingest::answer_for(model::apply_outcome::failed).result() ==
          http::status::internal_server_error);
  }

  TEST_CASE("routes") {
    CHECK(ingest::route_of("/webhooks/shopify") == ingest::route::webhook);
    CHECK(ingest::route_of("/webhooks/shopify?x=1") == ingest::route::webhook);
    CHECK(ingest::route_of("/webhooks/shopify/") == ingest::route::not_found);
    CHECK(ingest::route_of("/healthz") == ingest::route::healthz);
    CHECK(ingest::route_of("/readyz") == ingest::route::readyz);
    CHECK(ingest::route_of("/metrics") == ingest::route::metrics);
    CHECK(ingest::route_of("/status") == ingest::route::status);
    CHECK(ingest::route_of("/status/") == ingest::route::status);
    CHECK(ingest::route_of("/status/x") == ingest::route::not_found);
    CHECK(ingest::route_of("/") == ingest::route::not_found);
  }
}
