#include "tests/support/webhooks.hpp"

#include "crypto/hmac.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace shopmirror::test {

net::client_response post_webhook(net::http_client& client, const signed_delivery& delivery) {
  net::header_list headers = {
      {"Content-Type", "application/json"},
      {"X-Shopify-Topic", delivery.topic},
      {"X-Shopify-Hmac-Sha256", crypto::shopify_signature(delivery.secret, delivery.body)},
      {"X-Shopify-Shop-Domain", delivery.shop},
      {"X-Shopify-API-Version", delivery.api_version},
      {"X-Shopify-Webhook-Id", delivery.webhook_id},
  };
  if (delivery.triggered_at) {
    headers.emplace_back("X-Shopify-Triggered-At", *delivery.triggered_at);
  }
  return client.request("POST", "/webhooks/shopify", headers, delivery.body);
}

net::http_client local_client(std::uint16_t port, std::chrono::milliseconds timeout) {
  net::url_parts origin;
  origin.tls = false;
  origin.host = "127.0.0.1";
  origin.port = std::to_string(port);
  net::client_settings settings;
  settings.request_timeout = timeout;
  return net::http_client(origin, settings);
}

std::string metric(const std::string& exposition, const std::string& series) {
  const auto at = exposition.find(series + " ");
  return at == std::string::npos
             ? ""
             : exposition.substr(at + series.size() + 1,
                                 exposition.find('\n', at) - at - series.size() - 1);
}

std::string product_json(const product_spec& p, const std::string& category,
                         const std::map<std::int64_t, std::string>& barcodes) {
  std::ostringstream out;
  out << "{\"id\":" << p.id << ",\"title\":\"" << p.title << "\",\"handle\":\"product-" << p.id
      << "\",\"vendor\":\"Acme\",\"product_type\":\"Shirts\",\"status\":\"" << p.status
      << "\",\"tags\":\"" << p.tags << "\",\"body_html\":\"<p>Body \\/ " << p.id
      << "<\\/p>\",\"created_at\":\"2025-01-01T00:00:00Z\",\"updated_at\":\"" << p.updated_at
      << "\",\"published_at\":null,\"admin_graphql_api_id\":\"gid://shopify/Product/" << p.id
      << "\",\"category\":";
  if (category.empty()) {
    out << "null";
  } else {
    out << "{\"admin_graphql_api_id\":\"gid://shopify/TaxonomyCategory/" << category
        << "\",\"name\":\"Category " << category << "\",\"full_name\":\"Apparel > Category "
        << category << "\"}";
  }
  out << ",\"variants\":[";
  for (std::size_t i = 0; i < p.variants.size(); ++i) {
    const auto& v = p.variants[i];
    out << (i ? "," : "") << "{\"id\":" << v.id << ",\"product_id\":" << p.id
        << ",\"title\":\"Variant " << v.id << "\",\"price\":\"" << v.price
        << "\",\"sku\":" << (v.sku.empty() ? "null" : "\"" + v.sku + "\"")
        << ",\"position\":" << v.position << ",\"compare_at_price\":null,\"option1\":\"Size "
        << v.position << "\",\"option2\":null,\"option3\":null,\"barcode\":"
        << (barcodes.count(v.id) != 0 ? "\"" + barcodes.at(v.id) + "\"" : "null")
        << ",\"inventory_quantity\":" << v.inventory << ",\"updated_at\":\"" << p.updated_at
        << "\"}";
  }
  out << "]}";
  return out.str();
}

std::string delete_json(std::int64_t id) {
  return "{\"id\":" + std::to_string(id) + "}";
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout, const std::string& source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot bind to " + source);
    }
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break; // the server may close early (a 413), which is what some tests check
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      break;
    }
    char buffer[16384];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      break;
    }
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

int first_status(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) {
    return 0;
  }
  return std::stoi(response.substr(9, 3));
}

std::string fixture(const std::string& relative_path) {
  const std::string path = std::string(SHOPMIRROR_FIXTURES) + "/" + relative_path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("missing fixture " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace shopmirror::test
