#pragma once

#include "net/http_client.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shopmirror::test {

/// A delivery as Shopify makes it: headers and a body, signed with `secret`.
struct signed_delivery {
  std::string topic = "products/update";
  std::string shop = "test-shop.myshopify.com";
  std::string webhook_id;
  std::string body;
  std::string secret;
  std::optional<std::string> triggered_at;
  std::string api_version = "2026-10";
};

/// Posts the delivery to /webhooks/shopify.
net::client_response post_webhook(net::http_client& client, const signed_delivery& delivery);

/// A client for a local service on `port`.
net::http_client local_client(std::uint16_t port,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// The value of `series` (name and labels, exactly as exposed) in a
/// Prometheus text exposition; "" when it is not there.
std::string metric(const std::string& exposition, const std::string& series);

struct variant_spec {
  std::int64_t id = 0;
  std::string price = "10.00";
  std::string sku;
  int position = 1;
  std::int64_t inventory = 0;
};

/// A products/create or products/update body in Shopify's REST shape.
struct product_spec {
  std::int64_t id = 0;
  std::string title = "Product";
  std::string updated_at = "2026-01-01T00:00:00Z";
  std::string tags = "alpha, beta";
  std::string status = "active";
  std::vector<variant_spec> variants;
};

/// `category` is a taxonomy category's id ("aa-1-13-8"); empty: none
/// (`"category": null`, as Shopify sends for a product without one).
/// `barcodes` are variants' `barcode` (their first barcode) by variant id;
/// a variant not in it has none (null).
std::string product_json(const product_spec& product, const std::string& category = "",
                         const std::map<std::int64_t, std::string>& barcodes = {});
std::string delete_json(std::int64_t id);

/// Sends raw bytes to 127.0.0.1:`port` and returns everything the server
/// sends back until it closes the connection or `timeout` passes.
/// `source` is the local address to send from (another loopback address
/// shows up as another client).
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5),
                         const std::string& source = "");

/// The status code of the first response in raw HTTP text, or 0.
int first_status(const std::string& response);

/// A file under tests/fixtures/.
std::string fixture(const std::string& relative_path);

} // namespace shopmirror::test
