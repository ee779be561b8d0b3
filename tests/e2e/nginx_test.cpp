// Debian's nginx running the shipped configuration (deploy/nginx/) in front
// of the real service.

#include "cli/config.hpp"
#include "crypto/hmac.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/nginx_process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <sstream>
#include <thread>

using namespace shopmirror;

namespace {

const std::string secret = "nginx-secret";

struct behind_nginx {
  test::test_database db;
  // At debug level each delivery has a line of its own, with its client.
  test::service_process service{db.url(), {secret}, {{"SHOPMIRROR_LOG_LEVEL", "debug"}}};
  test::nginx_process nginx{{service.port()}, test::nginx_process::mode::plain};
  net::http_client client = test::local_client(nginx.port(), std::chrono::seconds(20));

  net::client_response send(const std::string& id, const std::string& body) {
    test::signed_delivery d;
    d.webhook_id = id;
    d.body = body;
    d.secret = secret;
    return test::post_webhook(client, d);
  }
};

std::string raw_webhook(const std::string& body, const std::string& id) {
  return "POST /webhooks/shopify HTTP/1.1\r\nHost: hooks.example.com\r\n"
         "User-Agent: Shopify-Captain-Hook\r\nContent-Type: application/json\r\n"
         "X-Shopify-Topic: products/update\r\nX-Shopify-Shop-Domain: n.myshopify.com\r\n"
         "X-Shopify-Webhook-Id: " +
         id + "\r\nX-Shopify-Hmac-Sha256: " + crypto::shopify_signature(secret, body) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

// A product of about `bytes`, with many variants, as Shopify would send it.
std::string large_product(std::int64_t id, std::size_t bytes) {
  test::product_spec p{id, "Large", "2026-01-01T00:00:00Z", "big", "active", {}};
  for (int v = 1; v <= 2000; ++v) {
    p.variants.push_back({id * 10000 + v, "1.00", "SKU-" + std::to_string(v), v, v});
  }
  std::string body = test::product_json(p);
  const std::string pad(bytes > body.size() ? bytes - body.size() : 0, 'x');
  body.insert(body.find("\"body_html\":\"") + 13, pad);
  return body;
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("nginx's body limit is shopmirror's") {
    const std::string locations = test::deploy_file("nginx/shopmirror-locations.conf");
    const std::regex limit(R"(location = /webhooks/shopify \{[^}]*client_max_body_size (\d+)m;)");
    std::smatch match;
    REQUIRE(std::regex_search(locations, match, limit));
    CHECK(std::stoull(match[1]) * 1024 * 1024 == cli::config{}.max_body_bytes);
  }

  TEST_CASE_FIXTURE(behind_nginx,
                    "signed webhooks land through nginx with their signature intact") {
    // Escaped slashes, escaped ampersands and raw UTF-8: re-serialising any of
    // them would break the signature.
    const std::string body =
        R"({"id":501,"title":"Caf\u00e9 \u0026 Tea \/ Pot – ☕","handle":"pot","updated_at":"2026-01-01T00:00:00Z","variants":[]})";
    const auto r = send("n-1", body);
    CHECK(r.status == 200);
    CHECK(db.scalar("select title from shopify.products where product_id = 501") ==
          "Café & Tea / Pot – ☕");
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "1");
  }

  TEST_CASE_FIXTURE(behind_nginx, "a 5 MiB product lands through nginx") {
    const std::string body = large_product(502, 5 * 1024 * 1024);
    REQUIRE(body.size() >= 5 * 1024 * 1024);
    // On a loaded machine the commit may miss the ack budget: then, as
    // Shopify does, the same delivery is sent again.
    auto r = send("n-big", body);
    for (int retry = 0; retry < 3 && r.status == 503; ++retry) {
      r = send("n-big", body);
    }
    CHECK(r.status == 200);
    CHECK(db.scalar("select count(*) from shopify.product_variants where product_id = 502") ==
          "2000");
    CHECK(db.scalar(
              "select length(body_html) > 4000000 from shopify.products where product_id = 502") ==
          "t");
  }

  TEST_CASE_FIXTURE(behind_nginx, "over the limit nginx answers 413 and shopmirror never sees it") {
    const std::string body = large_product(503, 9 * 1024 * 1024);
    const auto r = send("n-too-big", body);
    CHECK(r.status == 413);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
    CHECK(service.process().output().find("n-too-big") == std::string::npos);
  }

  TEST_CASE_FIXTURE(behind_nginx,
                    "shopmirror logs the client address and request id nginx passes on") {
    const std::string answer = test::raw_exchange(
        nginx.port(),
        raw_webhook(test::product_json({504, "X", "2026-01-01T00:00:00Z", "", "active", {}}),
                    "n-client"),
        std::chrono::seconds(10), "127.0.0.2");
    CHECK(test::first_status(answer) == 200);
    const auto line =
        service.process().wait_for_log({{"webhook_id", "n-client"}}, std::chrono::seconds(5));
    REQUIRE(line);
    CHECK(test::field(*line, "client") == "127.0.0.2");
    const std::string request_id = test::field(*line, "request_id");
    CHECK(std::regex_match(request_id, std::regex("[0-9a-f]{32}")));
    // And nginx's access line for the same request carries the same id.
    std::string access;
    for (int i = 0; i < 50 && access.find("webhook_id=\"n-client\"") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      access = nginx.access_log();
    }
    std::string access_line;
    std::istringstream lines(access);
    for (std::string l; std::getline(lines, l);) {
      if (l.find("webhook_id=\"n-client\"") != std::string::npos) {
        access_line = l;
      }
    }
    REQUIRE_MESSAGE(!access_line.empty(), access);
    CHECK(access_line.find("request_id=" + request_id) != std::string::npos);
    CHECK(access_line.find(" 200 ") != std::string::npos);
    CHECK(access_line.find("shop=\"") != std::string::npos);
  }

  TEST_CASE_FIXTURE(behind_nginx, "no redirects: other paths are 404 and GET is 405") {
    const auto slash = client.request("POST", "/webhooks/shopify/", {}, "{}");
    CHECK(slash.status == 404);
    CHECK(client.request("GET", "/webhooks/shopify", {}).status == 405);
    CHECK(client.request("GET", "/", {}).status == 404);
    CHECK(client.request("GET", "/readyz", {}).status == 200);
  }

  TEST_CASE("the shipped TLS site serves webhooks over HTTPS") {
    test::test_database db;
    test::service_process service(db.url(), {secret});
    test::nginx_process nginx({service.port()}, test::nginx_process::mode::tls);
    test::child_process sender(
        {test::shopmirror_binary(), "send", "--insecure", "--url",
         "https://127.0.0.1:" + std::to_string(nginx.port()) + "/webhooks/shopify", "--secret",
         secret, "--topic", "products/create",
         std::string(SHOPMIRROR_FIXTURES) +
             "/shopify/products-create.shopify-reference-sample.json"},
        {});
    CHECK(sender.wait(std::chrono::seconds(20)) == 0);
    CHECK(sender.output().find("HTTP 200") != std::string::npos);
    CHECK(db.scalar("select title from shopify.products") == "Example T-Shirt");

    // Verified: the client trusts the site's CA (OpenSSL's SSL_CERT_FILE, as a
    // private CA would be configured), and the certificate names the host.
    test::child_process verified(
        {test::shopmirror_binary(), "send", "--url",
         "https://localhost:" + std::to_string(nginx.port()) + "/webhooks/shopify", "--secret",
         secret, "--webhook-id", "tls-verified",
         std::string(SHOPMIRROR_FIXTURES) +
             "/shopify/products-create.shopify-reference-sample.json"},
        {{"SSL_CERT_FILE", nginx.ca_file()}});
    CHECK(verified.wait(std::chrono::seconds(20)) == 0);
    CHECK(verified.output().find("HTTP 200") != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries where webhook_id = "
                    "'tls-verified'") == "1");
    // The same trusted CA, but the certificate does not name 127.0.0.1.
    test::child_process wrong_name(
        {test::shopmirror_binary(), "send", "--url",
         "https://127.0.0.1:" + std::to_string(nginx.port()) + "/webhooks/shopify", "--secret",
         secret,
         std::string(SHOPMIRROR_FIXTURES) +
             "/shopify/products-create.shopify-reference-sample.json"},
        {{"SSL_CERT_FILE", nginx.ca_file()}});
    CHECK(wrong_name.wait(std::chrono::seconds(20)) == 1);
    CHECK(wrong_name.output().find("TLS handshake") != std::string::npos);

    // Without --insecure, a certificate from a CA the client does not trust is refused.
    test::child_process strict(
        {test::shopmirror_binary(), "send", "--url",
         "https://127.0.0.1:" + std::to_string(nginx.port()) + "/webhooks/shopify", "--secret",
         secret,
         std::string(SHOPMIRROR_FIXTURES) +
             "/shopify/products-create.shopify-reference-sample.json"},
        {});
    CHECK(strict.wait(std::chrono::seconds(20)) == 1);
    CHECK(strict.output().find("TLS handshake") != std::string::npos);
  }
}
