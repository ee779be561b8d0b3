#pragma once

#include "model/delivery.hpp"
#include "model/product_state.hpp"

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace shopmirror::model {

/// A signed body that cannot be applied, and why (kept as a dead letter).
struct payload_error {
  std::string reason;
  std::optional<std::int64_t> product_id;
  dead_letter_kind kind = dead_letter_kind::malformed;
};

using product_payload = std::variant<product_state, delete_product, refresh_product, payload_error>;

/// Maps the body of a `products/create`, `products/update` or
/// `products/delete` delivery (REST-shaped JSON) to what it asks of the
/// mirror. Pure; never throws on any input. A create or update without
/// `updated_at` cannot be ordered against other states: it is treated like
/// Shopify's bare `{"id": …}` stub and asks for a refresh from the Admin API.
/// The topic header is not signed, and Shopify's delete body is `{"id": N}`:
/// a delete body that carries a product's fields is a signed product state
/// replayed under another topic, never a delete.
product_payload map_product_webhook(product_topic topic, std::string_view body);

/// Whether shopmirror can fetch a stub's product from the Admin API (it has
/// credentials for the delivery's shop).
enum class stub_fetch { possible, impossible };

/// What a signed delivery of `topic` with this body asks of the mirror: the
/// classifier's one entry point. Product topics go through the mapping
/// above, with the body kept as the source document or, if it cannot be
/// applied, as a dead letter; the compliance topics and app/uninstalled
/// through map_compliance_webhook (model/compliance_payload.hpp), which
/// checks the body against `shop_domain`, the delivery's shop header in
/// lower case; other topics are ignored. A stub that cannot be fetched is a
/// dead letter, never acknowledged and dropped: replayed once the shop has
/// credentials, it is fetched. Pure.
delivery_action action_for(webhook_topic topic, std::string_view shop_domain, std::string body,
                           stub_fetch fetch);

/// Sorts what has no meaningful order (tags; variants by position, then id)
/// so that equal products compare equal whichever API they came from.
void canonicalize(product_state& state);

/// Splits Shopify's comma-separated tag string, trimming blanks and
/// dropping empty items.
std::vector<std::string> split_tags(std::string_view tags);

/// Appends a JSON array of tags (the GraphQL shape), each trimmed as
/// split_tags does; sets `error` if an element is not a string.
void append_tags(const rapidjson::Value& array, std::vector<std::string>& tags, std::string& error);

} // namespace shopmirror::model
