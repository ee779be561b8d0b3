#pragma once

#include "model/delivery.hpp"

#include <string>
#include <string_view>

namespace shopmirror::model {

/// Maps the body of one of Shopify's mandatory compliance deliveries
/// (`customers/data_request`, `customers/redact`, `shop/redact`) or of
/// `app/uninstalled` to what it asks of the mirror, or to a dead letter that
/// keeps `body` with the reason. Pure; never throws on any input.
///
/// Neither the topic header nor the shop header is signed: only the body is.
/// So a body must be its topic's documented shape (Shopify's webhook
/// reference, samples in tests/fixtures/shopify): `shop_id` and `shop_domain` for the
/// compliance topics (and `customer.id` for the customers ones), the Shop
/// resource for `app/uninstalled`; a body of another topic is a dead letter
/// (`wrong_topic`: a customer's request replayed as `shop/redact` would
/// erase a whole shop), and so is a body that names another shop than
/// `shop_domain`, the delivery's shop header in lower case
/// (`shop_mismatch`). What is kept of a request holds its ids only, never
/// a customer's or shop owner's contact details.
///
/// Precondition: `topic` is one of the four above.
delivery_action map_compliance_webhook(webhook_topic topic, std::string_view shop_domain,
                                       std::string body);

} // namespace shopmirror::model
