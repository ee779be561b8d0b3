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
};

using product_payload = std::variant<product_state, delete_product, refresh_product, payload_error>;

/// Maps the body of a `products/create`, `products/update` or
/// `products/delete` delivery (REST-shaped JSON) to what it asks of the
/// mirror. Pure; never throws on any input. A create or update without
/// `updated_at` cannot be ordered against other states: it is treated like
/// Shopify's bare `{"id": …}` stub and asks for a refresh from the Admin API.
product_payload map_product_webhook(product_topic topic, std::string_view body);

/// What a signed delivery of `topic` with this body asks of the mirror: the
/// mapping above, with the body kept as the source document or, if it cannot
/// be applied, as a dead letter. Topics other than products are ignored.
delivery_action action_for(product_topic topic, std::string body);

/// Sorts what has no meaningful order (tags; variants by position, then id)
/// so that equal products compare equal whichever API they came from.
void canonicalize(product_state& state);

/// Splits Shopify's comma-separated tag string, trimming blanks and
/// dropping empty items.
std::vector<std::string> split_tags(std::string_view tags);

/// Appends a JSON array of tags (the GraphQL shape), each trimmed as
/// split_tags does; sets `error` if an element is not a string.
void append_tags(const rapidjson::Value& array, std::vector<std::string>& tags,
                 std::string& error);

} // namespace shopmirror::model
