#pragma once

#include "crypto/signature.hpp"
#include "ingest/http_types.hpp"
#include "model/delivery.hpp"

#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace shopmirror::ingest {

/// An answer decided before the database is involved.
struct webhook_rejection {
  http::status status = http::status::bad_request;
  /// Short JSON, or empty (a 401 says nothing).
  std::string body;
  /// Set for a 401: why the signature was refused.
  std::optional<crypto::signature_status> signature;
};

using webhook_verdict = std::variant<webhook_rejection, model::delivery_item>;

/// What a request to the webhook address is answered from its header alone,
/// before a byte of its body is read: 405 for a method other than POST, 413
/// for a declared Content-Length over `max_body_bytes`; nothing when the body
/// is to be read (a chunked body is held to the limit while it is read).
/// Pure.
std::optional<http_response> webhook_answer_from_header(const http_header& header,
                                                        std::uint64_t max_body_bytes);

/// The part of `POST /webhooks/shopify` that needs neither sockets nor the
/// database, in the order of the table in docs/ARCHITECTURE.md: method,
/// size, signature (on the raw bytes, before anything parses them), the
/// headers, then the payload. Either an answer to send now, or a delivery
/// to apply. Pure.
/// `can_fetch` says whether shopmirror has Admin API access to a shop, to
/// fetch the product of a stub payload (else the stub is a dead letter).
webhook_verdict classify_webhook(http::verb method, const http::fields& headers, std::string body,
                                 const crypto::webhook_verifier& verifier,
                                 std::uint64_t max_body_bytes, model::timestamp received_at,
                                 const std::function<bool(std::string_view shop)>& can_fetch);

/// The status and body that answer a delivery once the database is done.
http_response answer_for(model::apply_outcome outcome);

/// Looks up a Shopify header under both spellings Shopify uses,
/// `X-Shopify-<name>` (webhooks) and `Shopify-<name>` (events); names are
/// case-insensitive. All values found, in order.
std::vector<std::string_view> shopify_header(const http::fields& headers, std::string_view name);

} // namespace shopmirror::ingest
