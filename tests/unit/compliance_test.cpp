// The classifier for Shopify's mandatory compliance topics and
// app/uninstalled: each topic's documented body becomes its action, with
// only ids kept; a body that is not its topic's shape, or that names another
// shop, is a dead letter that keeps the body; and through the webhook
// classifier, the header's shop decides.

#include "crypto/hmac.hpp"
#include "ingest/webhook.hpp"
#include "model/compliance_payload.hpp"
#include "model/webhook_payload.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <rapidjson/document.h>

using namespace shopmirror;
using model::webhook_topic;

namespace {

const std::string shop = "demo.myshopify.com";

std::string sample(const std::string& name) {
  std::string body = test::fixture("shopify/" + name);
  const std::string placeholder = "{shop}";
  const auto at = body.find(placeholder);
  REQUIRE(at != std::string::npos);
  return body.replace(at, placeholder.size(), "demo");
}

model::delivery_action map(webhook_topic topic, const std::string& body,
                           const std::string& header_shop = shop) {
  return model::map_compliance_webhook(topic, header_shop, body);
}

const model::dead_letter& dead(const model::delivery_action& action) {
  REQUIRE(std::holds_alternative<model::dead_letter>(action));
  return std::get<model::dead_letter>(action);
}

rapidjson::Document parsed(const std::string& json) {
  rapidjson::Document document;
  document.Parse(json.c_str(), json.size());
  REQUIRE_FALSE(document.HasParseError());
  REQUIRE(document.IsObject());
  return document;
}

const std::string data_request_topic = "customers/data_request";

} // namespace

TEST_SUITE("model") {

  TEST_CASE("the topics are told apart - everything else is other") {
    CHECK(model::parse_topic("customers/data_request") == webhook_topic::customers_data_request);
    CHECK(model::parse_topic("customers/redact") == webhook_topic::customers_redact);
    CHECK(model::parse_topic("shop/redact") == webhook_topic::shop_redact);
    CHECK(model::parse_topic("app/uninstalled") == webhook_topic::app_uninstalled);
    CHECK(model::parse_topic("products/update") == webhook_topic::products_update);
    CHECK(model::parse_topic("shop/update") == webhook_topic::other);
    CHECK(model::parse_topic("Shop/Redact") ==
          webhook_topic::other); // Shopify's topics are lower case
    CHECK(model::parse_topic("app/uninstalled ") == webhook_topic::other);
  }

  TEST_CASE(
      "customers/data_request: recorded with its ids and never the customer's e-mail or phone") {
    const std::string body = sample("customers-data_request.shopify-reference-sample.json");
    const auto action = map(webhook_topic::customers_data_request, body);
    REQUIRE(std::holds_alternative<model::record_compliance_request>(action));
    const auto& request = std::get<model::record_compliance_request>(action);
    CHECK(request.shop_id == 954889);
    CHECK(request.customer_id == 191167);
    CHECK(request.record ==
          R"({"shop_id":954889,"shop_domain":"demo.myshopify.com","customer":{"id":191167},)"
          R"("orders_requested":[299938,280263,220458],"data_request":{"id":9999}})");
    CHECK(request.record.find("john@example.com") == std::string::npos);
    CHECK(request.record.find("555-625-1199") == std::string::npos);
    // What is kept is itself a body of its topic (a dead letter of it replays).
    CHECK(std::holds_alternative<model::record_compliance_request>(
        map(webhook_topic::customers_data_request, request.record)));
  }

  TEST_CASE("customers/redact: recorded with the orders to redact") {
    const std::string body = sample("customers-redact.shopify-reference-sample.json");
    const auto action = map(webhook_topic::customers_redact, body);
    REQUIRE(std::holds_alternative<model::record_compliance_request>(action));
    const auto& request = std::get<model::record_compliance_request>(action);
    const auto kept = parsed(request.record);
    CHECK(kept["orders_to_redact"].Size() == 3);
    CHECK(kept["orders_to_redact"][2].GetInt64() == 220458);
    CHECK_FALSE(kept["customer"].HasMember("email"));
    CHECK_FALSE(kept.HasMember("orders_requested"));
    // Shop domains are case-insensitive; what is kept is the header's spelling.
    std::string upper = body;
    upper.replace(upper.find("demo.myshopify.com"), 4, "DeMo");
    const auto upper_action = map(webhook_topic::customers_redact, upper);
    const auto& upper_request = std::get<model::record_compliance_request>(upper_action);
    CHECK(parsed(upper_request.record)["shop_domain"].GetString() == shop);
  }

  TEST_CASE("shop/redact: the shop's erasure with its id") {
    const std::string body = sample("shop-redact.shopify-reference-sample.json");
    const auto action = map(webhook_topic::shop_redact, body);
    REQUIRE(std::holds_alternative<model::redact_shop>(action));
    CHECK(std::get<model::redact_shop>(action).shop_id == 954889);
    CHECK(std::get<model::redact_shop>(action).record ==
          R"({"shop_id":954889,"shop_domain":"demo.myshopify.com"})");
    // Keys Shopify may add later do not stop it.
    CHECK(std::holds_alternative<model::redact_shop>(
        map(webhook_topic::shop_redact,
            R"({"shop_id":1,"shop_domain":"demo.myshopify.com","requested_at":"2026-01-01"})")));
  }

  TEST_CASE("app/uninstalled: the Shop resource - its id kept and nothing of its owner") {
    const std::string body = test::fixture("shopify/app-uninstalled.shop-resource-fields.json");
    const auto action = map(webhook_topic::app_uninstalled, body);
    REQUIRE(std::holds_alternative<model::uninstall_app>(action));
    const auto& uninstall = std::get<model::uninstall_app>(action);
    CHECK(uninstall.shop_id == std::optional<std::int64_t>(548380009));
    CHECK(uninstall.record == R"({"id":548380009})"); // myshopify_domain is null in the sample
    // Trimmed by include_fields, or empty: still the shop of the header.
    const auto trimmed = map(webhook_topic::app_uninstalled, R"({"id":7})");
    CHECK(std::get<model::uninstall_app>(trimmed).shop_id == std::optional<std::int64_t>(7));
    const auto empty = map(webhook_topic::app_uninstalled, "{}");
    CHECK_FALSE(std::get<model::uninstall_app>(empty).shop_id);
    CHECK(std::get<model::uninstall_app>(empty).record == "{}");
    const auto named = map(webhook_topic::app_uninstalled,
                           R"({"id":7,"myshopify_domain":"Demo.myshopify.com","email":"x@y.z"})");
    CHECK(std::get<model::uninstall_app>(named).record ==
          R"({"id":7,"myshopify_domain":"demo.myshopify.com"})");
  }

  TEST_CASE("a compliance body that is not its topic's shape is a dead letter keeping the body") {
    const struct {
      webhook_topic topic;
      std::string body;
      std::string reason;
    } cases[] = {
        {webhook_topic::shop_redact, R"({"shop_domain":"demo.myshopify.com"})", "shop_id"},
        {webhook_topic::shop_redact, R"({"shop_id":1})", "shop_domain is missing"},
        {webhook_topic::shop_redact, R"({"shop_id":"1","shop_domain":"demo.myshopify.com"})",
         "shop_id"},
        {webhook_topic::shop_redact, R"({"shop_id":-5,"shop_domain":"demo.myshopify.com"})",
         "shop_id"},
        {webhook_topic::shop_redact, R"({"shop_id":1,"shop_domain":7})", "shop_domain is missing"},
        {webhook_topic::shop_redact,
         R"({"shop_id":1,"shop_id":2,"shop_domain":"demo.myshopify.com"})", "duplicate key"},
        {webhook_topic::shop_redact, "[]", "not a JSON object"},
        {webhook_topic::shop_redact, "", ""},
        {webhook_topic::shop_redact, R"({"shop_id":1,"shop_domain":"demo.myshopify.com")", ""},
        {webhook_topic::customers_redact, R"({"shop_id":1,"shop_domain":"demo.myshopify.com"})",
         "customer is missing"},
        {webhook_topic::customers_redact,
         R"({"shop_id":1,"shop_domain":"demo.myshopify.com","customer":{"email":"a@b.c"}})",
         "customer.id"},
        {webhook_topic::customers_redact,
         R"({"shop_id":1,"shop_domain":"demo.myshopify.com","customer":{"id":2},)"
         R"("orders_to_redact":[1,"2"]})",
         "orders_to_redact"},
        {webhook_topic::customers_data_request,
         R"({"shop_id":1,"shop_domain":"demo.myshopify.com","customer":{"id":2},)"
         R"("data_request":9})",
         "data_request"},
        {webhook_topic::customers_data_request,
         R"({"shop_id":1,"shop_domain":"demo.myshopify.com","customer":{"id":2},)"
         R"("orders_requested":{"id":1}})",
         "orders_requested"},
        {webhook_topic::app_uninstalled, R"({"id":"548380009"})", "id is not"},
        {webhook_topic::app_uninstalled, R"({"id":1,"myshopify_domain":5})", "myshopify_domain"},
        {webhook_topic::app_uninstalled, "null", "not a JSON object"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.body);
      const auto action = map(c.topic, c.body);
      const auto& letter = dead(action);
      CHECK(letter.body == c.body);
      CHECK(letter.kind == model::dead_letter_kind::malformed);
      CHECK_FALSE(letter.reason.empty());
      CHECK(letter.reason.find(c.reason) != std::string::npos);
      CHECK_FALSE(letter.product_id);
    }
  }

  TEST_CASE("a body naming another shop than the header is a dead letter and not an erasure") {
    // Neither header is signed: a captured shop/redact of one shop, sent
    // under another shop's header, must not erase that one.
    const std::string body = sample("shop-redact.shopify-reference-sample.json");
    const auto moved = map(webhook_topic::shop_redact, body, "victim.myshopify.com");
    const auto& redact = dead(moved);
    CHECK(redact.kind == model::dead_letter_kind::shop_mismatch);
    CHECK(redact.reason.find("victim.myshopify.com") != std::string::npos);
    CHECK(redact.body == body);
    const std::string customers = sample("customers-redact.shopify-reference-sample.json");
    CHECK(dead(map(webhook_topic::customers_redact, customers, "victim.myshopify.com")).kind ==
          model::dead_letter_kind::shop_mismatch);
    CHECK(dead(map(webhook_topic::app_uninstalled,
                   R"({"id":1,"myshopify_domain":"demo.myshopify.com"})", "victim.myshopify.com"))
              .kind == model::dead_letter_kind::shop_mismatch);
  }

  TEST_CASE("another topic's body under a compliance topic is a dead letter (wrong_topic)") {
    // A customer's request replayed as shop/redact would erase the whole shop.
    for (const char* name : {"customers-redact.shopify-reference-sample.json",
                             "customers-data_request.shopify-reference-sample.json"}) {
      CAPTURE(name);
      const auto action = map(webhook_topic::shop_redact, sample(name));
      const auto& letter = dead(action);
      CHECK(letter.kind == model::dead_letter_kind::wrong_topic);
      CHECK(letter.reason.find("a customer's request") != std::string::npos);
    }
    // A product or a compliance body under app/uninstalled.
    const std::string product =
        test::fixture("shopify/products-create.shopify-reference-sample.json");
    CHECK(dead(map(webhook_topic::app_uninstalled, product)).kind ==
          model::dead_letter_kind::wrong_topic);
    CHECK(dead(map(webhook_topic::app_uninstalled,
                   sample("shop-redact.shopify-reference-sample.json")))
              .kind == model::dead_letter_kind::wrong_topic);
    // A shop/redact body lacks a customer: not a customer's request.
    CHECK(dead(map(webhook_topic::customers_redact,
                   sample("shop-redact.shopify-reference-sample.json")))
              .kind == model::dead_letter_kind::malformed);
  }

  TEST_CASE("action_for routes each topic: products to the product mapping and the rest here") {
    const std::string redact = sample("shop-redact.shopify-reference-sample.json");
    CHECK(std::holds_alternative<model::redact_shop>(model::action_for(
        webhook_topic::shop_redact, shop, redact, model::stub_fetch::impossible)));
    CHECK(std::holds_alternative<model::ignore_delivery>(
        model::action_for(webhook_topic::other, shop, redact, model::stub_fetch::possible)));
    // The same body under a product topic is a product without an id.
    CHECK(std::holds_alternative<model::dead_letter>(model::action_for(
        webhook_topic::products_update, shop, redact, model::stub_fetch::possible)));
    CHECK(std::holds_alternative<model::uninstall_app>(model::action_for(
        webhook_topic::app_uninstalled, shop, R"({"id":42})", model::stub_fetch::possible)));
    CHECK(std::holds_alternative<model::refresh_product>(model::action_for(
        webhook_topic::products_update, shop, R"({"id":42})", model::stub_fetch::possible)));
  }

  TEST_CASE("the new outcomes and dead-letter kinds have names") {
    CHECK(model::to_string(model::apply_outcome::recorded) == "recorded");
    CHECK(model::to_string(model::apply_outcome::redaction_requested) == "redaction_requested");
    CHECK(model::to_string(model::apply_outcome::uninstalled) == "uninstalled");
    CHECK(model::is_durable(model::apply_outcome::redaction_requested));
    CHECK(model::to_string(model::dead_letter_kind::wrong_topic) == "wrong_topic");
    CHECK(model::to_string(model::dead_letter_kind::shop_mismatch) == "shop_mismatch");
  }

} // TEST_SUITE("model")

TEST_SUITE("ingest") {

  TEST_CASE("through the webhook classifier: signed first and then the header's shop decides") {
    const std::string secret = "hush";
    const crypto::webhook_verifier verifier({secret});
    const model::timestamp received{1'700'000'000'000'000};
    const auto classify = [&](const std::string& topic, const std::string& header_shop,
                              const std::string& body, const std::string& key) {
      ingest::http::fields h;
      h.set("X-Shopify-Topic", topic);
      h.set("X-Shopify-Hmac-Sha256", crypto::shopify_signature(key, body));
      h.set("X-Shopify-Shop-Domain", header_shop);
      h.set("X-Shopify-Webhook-Id", "w-1");
      return ingest::classify_webhook(ingest::http::verb::post, h, body, verifier, 1 << 20,
                                      received, [](std::string_view) { return false; });
    };
    const std::string body = sample("shop-redact.shopify-reference-sample.json");

    // An unsigned shop/redact never reaches the classifier of bodies: 401.
    const auto forged = classify("shop/redact", "demo.myshopify.com", body, "not-the-secret");
    REQUIRE(std::holds_alternative<ingest::webhook_rejection>(forged));
    CHECK(std::get<ingest::webhook_rejection>(forged).status == ingest::http::status::unauthorized);

    // The header in another case is the same shop.
    const auto signed_verdict = classify("shop/redact", "DEMO.myshopify.com", body, secret);
    REQUIRE(std::holds_alternative<model::delivery_item>(signed_verdict));
    const auto& item = std::get<model::delivery_item>(signed_verdict);
    CHECK(item.meta.shop_domain == "demo.myshopify.com");
    CHECK(std::holds_alternative<model::redact_shop>(item.action));

    const auto other_shop = classify("shop/redact", "other.myshopify.com", body, secret);
    const auto& moved = std::get<model::delivery_item>(other_shop);
    CHECK(std::get<model::dead_letter>(moved.action).kind ==
          model::dead_letter_kind::shop_mismatch);

    const auto uninstall = classify("app/uninstalled", "demo.myshopify.com", "{}", secret);
    CHECK(std::holds_alternative<model::uninstall_app>(
        std::get<model::delivery_item>(uninstall).action));
  }

  TEST_CASE("the new outcomes are answered 200 with their name") {
    for (const auto outcome :
         {model::apply_outcome::recorded, model::apply_outcome::redaction_requested,
          model::apply_outcome::uninstalled}) {
      const auto response = ingest::answer_for(outcome);
      CHECK(response.result() == ingest::http::status::ok);
      CHECK(response.body() == "{\"outcome\":\"" + std::string(model::to_string(outcome)) + "\"}");
    }
  }

} // TEST_SUITE("ingest")
