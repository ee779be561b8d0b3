#pragma once

#include "model/delivery.hpp"

#include <optional>
#include <string>

namespace shopmirror::test {

/// A delivery item as the webhook endpoint would build it, through the real
/// payload mapping. `triggered_at` is X-Shopify-Triggered-At.
model::delivery_item item_from_body(const std::string& topic, const std::string& body,
                                    const std::string& webhook_id,
                                    const std::optional<std::string>& triggered_at,
                                    const std::string& shop = "test-shop.myshopify.com");

model::delivery_item delete_item(std::int64_t product_id, const std::string& webhook_id,
                                 const std::string& triggered_at,
                                 const std::string& shop = "test-shop.myshopify.com");

} // namespace shopmirror::test
