#include "tests/support/deliveries.hpp"

#include "model/webhook_payload.hpp"

#include <stdexcept>

namespace shopmirror::test {

model::delivery_item item_from_body(const std::string& topic, const std::string& body,
                                    const std::string& webhook_id,
                                    const std::optional<std::string>& triggered_at,
                                    const std::string& shop) {
  model::delivery meta;
  meta.shop_domain = shop;
  meta.webhook_id = webhook_id;
  meta.topic = topic;
  meta.api_version = "2026-10";
  if (triggered_at) {
    meta.triggered_at = model::parse_rfc3339(*triggered_at);
    if (!meta.triggered_at) {
      throw std::invalid_argument("bad triggered_at " + *triggered_at);
    }
  }
  meta.received_at = model::now();
  return {meta,
          model::action_for(model::parse_topic(topic), shop, body, model::stub_fetch::possible)};
}

model::delivery_item delete_item(std::int64_t product_id, const std::string& webhook_id,
                                 const std::string& triggered_at, const std::string& shop) {
  return item_from_body("products/delete", "{\"id\":" + std::to_string(product_id) + "}",
                        webhook_id, triggered_at, shop);
}

} // namespace shopmirror::test
