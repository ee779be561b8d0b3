#include "model/delivery.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace shopmirror::model {

product_topic parse_topic(std::string_view topic) noexcept {
  if (topic == "products/create") {
    return product_topic::create;
  }
  if (topic == "products/update") {
    return product_topic::update;
  }
  if (topic == "products/delete") {
    return product_topic::remove;
  }
  return product_topic::other;
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
  }
  return "malformed";
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
  case apply_outcome::dead_lettered:
    return "dead_letter";
  case apply_outcome::refresh_requested:
    return "refresh_requested";
  case apply_outcome::retry_later:
    return "retry_later";
  case apply_outcome::failed:
    return "failed";
  }
  return "unknown";
}

} // namespace shopmirror::model
