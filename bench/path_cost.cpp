// shopmirror-path-cost: what the service spends per webhook outside the
// database, stage by stage, on realistic products (3.5 KB by default):
// parsing the HTTP request, verifying the signature, mapping the payload,
// and encoding the batch parameters. One thread, many iterations.
//
//   shopmirror-path-cost [--iterations 20000] [--variants 3]

#include "cli/arguments.hpp"
#include "crypto/hmac.hpp"
#include "crypto/signature.hpp"
#include "db/delivery_store.hpp"
#include "ingest/webhook.hpp"
#include "tests/support/payloads.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace shopmirror;
namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

namespace {

const cli::command_spec program{
    .name = "",
    .usage = "usage: shopmirror-path-cost [--iterations N] [--variants N]\n",
    .valued = {"--iterations", "--variants"},
    .program = "shopmirror-path-cost",
};

} // namespace

int run(int iterations, int variants) {
  const std::string secret = "path-cost-secret";
  const crypto::webhook_verifier verifier({secret});

  std::vector<std::string> requests;
  std::size_t body_bytes = 0;
  for (int i = 0; i < 256; ++i) {
    const std::string body = test::product_body(7'000'000'000'000 + i, i + 1, variants);
    body_bytes += body.size();
    requests.push_back(
        "POST /webhooks/shopify HTTP/1.1\r\nHost: hooks.example.com\r\nUser-Agent: "
        "Shopify-Captain-Hook\r\nContent-Type: application/json\r\nX-Shopify-Topic: "
        "products/update\r\nX-Shopify-Hmac-Sha256: " +
        crypto::shopify_signature(secret, body) +
        "\r\nX-Shopify-Shop-Domain: bench.myshopify.com\r\nX-Shopify-API-Version: 2026-10\r\n"
        "X-Shopify-Webhook-Id: b54557e4-bdd9-4b37-8a5f-" +
        std::to_string(100000000000 + i) +
        "\r\nX-Shopify-Triggered-At: 2026-01-01T00:00:00.123456789Z\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  double parse_s = 0, classify_s = 0, encode_s = 0, hmac_s = 0;
  std::size_t sink = 0;
  for (int n = 0; n < iterations; ++n) {
    const std::string& raw = requests[static_cast<std::size_t>(n) % requests.size()];
    auto t0 = clock_type::now();
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(8 * 1024 * 1024);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!ec && !parser.is_done() && used < raw.size()) {
      used += parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
    }
    if (ec || !parser.is_done()) {
      std::fprintf(stderr, "parse failed: %s\n", ec.message().c_str());
      return 1;
    }
    http::request<http::string_body> request = parser.release();
    auto t1 = clock_type::now();
    auto verdict = ingest::classify_webhook(request.method(), request.base(),
                                            std::move(request.body()), verifier, 8 * 1024 * 1024,
                                            model::now(), [](std::string_view) { return true; });
    auto t2 = clock_type::now();
    auto* item = std::get_if<model::delivery_item>(&verdict);
    if (item == nullptr || !std::holds_alternative<model::upsert_product>(item->action)) {
      std::fprintf(stderr, "not an upsert\n");
      return 1;
    }
    const auto params = db::apply_parameters(std::span(item, 1), {});
    auto t3 = clock_type::now();
    const auto& source = std::get<model::upsert_product>(item->action).source;
    sink += crypto::hmac_sha256(secret, source)[0];
    auto t4 = clock_type::now();
    sink += params[0].size();
    parse_s += std::chrono::duration<double>(t1 - t0).count();
    classify_s += std::chrono::duration<double>(t2 - t1).count();
    encode_s += std::chrono::duration<double>(t3 - t2).count();
    hmac_s += std::chrono::duration<double>(t4 - t3).count();
  }
  const auto us = [&](double s) { return s * 1e6 / iterations; };
  std::printf("bodies: %zu bytes on average, %d variants; %d iterations (sink %zu)\n",
              body_bytes / requests.size(), variants, iterations, sink % 10);
  std::printf("per webhook, microseconds:\n");
  std::printf("  HTTP request parse            %6.2f\n", us(parse_s));
  std::printf("  verify + headers + map JSON   %6.2f   (of which HMAC alone: %.2f)\n",
              us(classify_s), us(hmac_s));
  std::printf("  encode batch parameters       %6.2f\n", us(encode_s));
  std::printf("  total                         %6.2f\n", us(parse_s + classify_s + encode_s));
  return 0;
}

int main(int argc, char** argv) {
  return cli::run_program(program, argc, argv, [](const cli::arguments& args) {
    return run(static_cast<int>(args.integer_or("--iterations", 20000, 1, 1000000000)),
               static_cast<int>(args.integer_or("--variants", 3, 1, 2048)));
  });
}
