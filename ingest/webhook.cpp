#include "ingest/webhook.hpp"

#include "ingest/json_writer.hpp"
#include "model/webhook_payload.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace shopmirror::ingest {
namespace {

webhook_rejection reject(http::status status, std::string_view message) {
  return webhook_rejection{status, json_error(message), std::nullopt};
}

// Header values end up in logs and in the database: only short printable
// ASCII is taken.
bool is_plain(std::string_view value) {
  return !value.empty() && value.size() <= 255 &&
         std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Calls f(value) for each value of X-Shopify-NAME, then of Shopify-NAME.
// The full names are spelled in a buffer on the stack: this runs for every
// header of every delivery, and building them as strings was most of the
// heap allocations of reading a delivery's headers (README, Performance).
template <class F>
void for_each_shopify_header(const http::fields& headers, std::string_view name, F&& f) {
  for (const std::string_view prefix : {"X-Shopify-", "Shopify-"}) {
    std::array<char, 64> buffer{};
    std::string spelled; // only for a name too long for the buffer
    std::string_view full;
    if (prefix.size() + name.size() <= buffer.size()) {
      const auto end = std::copy(name.begin(), name.end(),
                                 std::copy(prefix.begin(), prefix.end(), buffer.begin()));
      full = std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.begin()));
    } else {
      spelled.append(prefix).append(name);
      full = spelled;
    }
    const auto range = headers.equal_range(full);
    for (auto it = range.first; it != range.second; ++it) {
      f(it->value());
    }
  }
}

// The single plain value of a header, or nothing if it is absent, repeated
// or not plain.
std::optional<std::string> single_plain(const http::fields& headers, std::string_view name) {
  std::string_view first;
  std::size_t count = 0;
  for_each_shopify_header(headers, name, [&](std::string_view value) {
    if (count++ == 0) {
      first = value;
    }
  });
  if (count != 1 || !is_plain(first)) {
    return std::nullopt;
  }
  return std::string(first);
}

} // namespace

std::vector<std::string_view> shopify_header(const http::fields& headers, std::string_view name) {
  std::vector<std::string_view> values;
  for_each_shopify_header(headers, name, [&](std::string_view value) { values.push_back(value); });
  return values;
}

std::optional<http_response> webhook_answer_from_header(const http_header& header,
                                                        std::uint64_t max_body_bytes) {
  if (header.method() != http::verb::post) {
    auto response =
        make_response(http::status::method_not_allowed, json_error("method not allowed"));
    response.set(http::field::allow, "POST");
    return response;
  }
  if (const auto length = header[http::field::content_length]; !length.empty()) {
    std::uint64_t declared = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
    if (ec == std::errc::result_out_of_range || (ec == std::errc{} && declared > max_body_bytes)) {
      return make_response(http::status::payload_too_large, json_error("body over the limit"));
    }
  }
  return std::nullopt;
}

webhook_verdict classify_webhook(http::verb method, const http::fields& headers, std::string body,
                                 const crypto::webhook_verifier& verifier,
                                 std::uint64_t max_body_bytes, model::timestamp received_at,
                                 const std::function<bool(std::string_view shop)>& can_fetch) {
  if (method != http::verb::post) {
    return reject(http::status::method_not_allowed, "only POST is accepted here");
  }
  if (body.size() > max_body_bytes) {
    return reject(http::status::payload_too_large, "body over the limit");
  }

  const auto signatures = shopify_header(headers, "Hmac-Sha256");
  // Shop domains are case-insensitive; one spelling keeps one key per shop.
  // Before the signature is checked, the claimed shop only picks which shop
  // keys to try; its form is checked below.
  const auto shops = shopify_header(headers, "Shop-Domain");
  std::string shop_domain = shops.size() == 1 ? std::string(shops.front()) : std::string();
  std::transform(shop_domain.begin(), shop_domain.end(), shop_domain.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const crypto::signature_result signature = verifier.verify(signatures, body, shop_domain);
  if (signature.status != crypto::signature_status::valid) {
    return webhook_rejection{http::status::unauthorized, "", signature.status};
  }

  model::delivery meta;
  const auto topic = single_plain(headers, "Topic");
  if (!topic) {
    return reject(http::status::bad_request, "missing or invalid X-Shopify-Topic");
  }
  if (!model::is_shop_domain(shop_domain)) {
    return reject(http::status::bad_request, "missing or invalid X-Shopify-Shop-Domain");
  }
  const auto webhook_id = single_plain(headers, "Webhook-Id");
  if (!webhook_id) {
    return reject(http::status::bad_request, "missing or invalid X-Shopify-Webhook-Id");
  }
  meta.topic = *topic;
  meta.shop_domain = std::move(shop_domain);
  meta.webhook_id = *webhook_id;
  meta.event_id = single_plain(headers, "Event-Id");
  meta.api_version = single_plain(headers, "API-Version");
  if (const auto triggered = single_plain(headers, "Triggered-At")) {
    // Unreadable, it is treated as absent: the received time orders instead.
    meta.triggered_at = model::parse_rfc3339(*triggered);
  }
  meta.received_at = received_at;

  model::delivery_action action = model::action_for(
      model::parse_topic(meta.topic), meta.shop_domain, std::move(body),
      can_fetch(meta.shop_domain) ? model::stub_fetch::possible : model::stub_fetch::impossible);
  return model::delivery_item{std::move(meta), std::move(action)};
}

http_response answer_for(model::apply_outcome outcome) {
  switch (outcome) {
  case model::apply_outcome::retry_later: {
    auto response = make_response(http::status::service_unavailable,
                                  json_error("the database cannot take this delivery now; "
                                             "retry"));
    response.set(http::field::retry_after, "1");
    return response;
  }
  case model::apply_outcome::failed:
    return make_response(http::status::internal_server_error, json_error("internal error"));
  default:
    // Every request that succeeds takes this path: the outcome's name is a
    // plain word, so the body is written without a JSON writer.
    const std::string_view name = model::to_string(outcome);
    std::string body;
    body.reserve(name.size() + 14);
    body.append(R"({"outcome":")").append(name).append(R"("})");
    return make_response(http::status::ok, std::move(body));
  }
}

} // namespace shopmirror::ingest
