#include "model/delivery.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace shopmirror::model {

webhook_topic parse_topic(std::string_view topic) noexcept {
  if (topic == "products/create") {
    return webhook_topic::products_create;
  }
  if (topic == "products/update") {
    return webhook_topic::products_update;
  }
  if (topic == "products/delete") {
    return webhook_topic::products_delete;
  }
  if (topic == "customers/data_request") {
    return webhook_topic::customers_data_request;
  }
  if (topic == "customers/redact") {
    return webhook_topic::customers_redact;
  }
  if (topic == "shop/redact") {
    return webhook_topic::shop_redact;
  }
  if (topic == "app/uninstalled") {
    return webhook_topic::app_uninstalled;
  }
  return webhook_topic::other;
}

product_topic product_topic_of(webhook_topic topic) noexcept {
  switch (topic) {
  case webhook_topic::products_create:
    return product_topic::create;
  case webhook_topic::products_update:
    return product_topic::update;
  case webhook_topic::products_delete:
    return product_topic::remove;
  default:
    return product_topic::other;
  }
}

std::string headers_json(const delivery& meta) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  const auto pair = [&](const char* name, std::string_view value) {
    writer.Key(name);
    writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  writer.StartObject();
  pair("X-Shopify-Topic", meta.topic);
  pair("X-Shopify-Shop-Domain", meta.shop_domain);
  pair("X-Shopify-Webhook-Id", meta.webhook_id);
  if (meta.event_id) {
    pair("X-Shopify-Event-Id", *meta.event_id);
  }
  if (meta.api_version) {
    pair("X-Shopify-API-Version", *meta.api_version);
  }
  if (meta.triggered_at) {
    pair("X-Shopify-Triggered-At", format_rfc3339(*meta.triggered_at));
  }
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string_view to_string(dead_letter_kind kind) noexcept {
  switch (kind) {
  case dead_letter_kind::malformed:
    return "malformed";
  case dead_letter_kind::not_a_delete:
    return "not_a_delete";
  case dead_letter_kind::unfetchable_stub:
    return "unfetchable_stub";
  case dead_letter_kind::refused:
    return "refused";
  case dead_letter_kind::wrong_topic:
    return "wrong_topic";
  case dead_letter_kind::shop_mismatch:
    return "shop_mismatch";
  }
  return "malformed";
}

bool is_shop_domain(std::string_view domain) noexcept {
  constexpr std::string_view suffix = ".myshopify.com";
  if (domain.size() <= suffix.size() || domain.size() > 255 ||
      domain.substr(domain.size() - suffix.size()) != suffix) {
    return false;
  }
  const std::string_view name = domain.substr(0, domain.size() - suffix.size());
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
             std::string_view::npos &&
         name.front() != '-';
}

std::string_view to_string(apply_outcome outcome) noexcept {
  switch (outcome) {
  case apply_outcome::applied:
    return "applied";
  case apply_outcome::stale:
    return "stale";
  case apply_outcome::duplicate:
    return "duplicate";
  case apply_outcome::ignored:
    return "ignored";
  case apply_outcome::dead_letter:
    return "dead_letter";
  case apply_outcome::refresh_requested:
    return "refresh_requested";
  case apply_outcome::recorded:
    return "recorded";
  case apply_outcome::redaction_requested:
    return "redaction_requested";
  case apply_outcome::uninstalled:
    return "uninstalled";
  case apply_outcome::retry_later:
    return "retry_later";
  case apply_outcome::failed:
    return "failed";
  }
  return "unknown";
}

} // namespace shopmirror::model
