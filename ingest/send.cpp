// `shopmirror send`: a signed delivery, as Shopify would make it, to test a
// deployment end to end.

#include "crypto/hmac.hpp"
#include "ingest/commands.hpp"
#include "model/timestamp.hpp"
#include "net/http_client.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

namespace shopmirror::ingest {
namespace {

struct send_options {
  std::string url = "http://127.0.0.1:8080/webhooks/shopify";
  std::string secret;
  std::string topic = "products/update";
  std::string shop = "example.myshopify.com";
  std::string webhook_id;
  std::string event_id;
  std::string api_version;
  std::string triggered_at;
  bool insecure = false;
  std::string file;
};

constexpr const char* usage =
    "usage: shopmirror send [options] FILE   (FILE '-' reads standard input)\n"
    "  --url URL            where to post (default http://127.0.0.1:8080/webhooks/shopify)\n"
    "  --secret SECRET      signing secret (default: the first of SHOPMIRROR_WEBHOOK_SECRETS)\n"
    "  --topic TOPIC        X-Shopify-Topic (default products/update)\n"
    "  --shop DOMAIN        X-Shopify-Shop-Domain (default example.myshopify.com)\n"
    "  --webhook-id ID      X-Shopify-Webhook-Id (default: a new random id)\n"
    "  --event-id ID        X-Shopify-Event-Id (default: none)\n"
    "  --api-version V      X-Shopify-API-Version (default: SHOPMIRROR_API_VERSION)\n"
    "  --triggered-at TIME  X-Shopify-Triggered-At (default: now)\n"
    "  --insecure           do not verify the server's TLS certificate\n";

std::string random_id() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  char text[37];
  unsigned char b[16];
  for (auto& x : b) {
    x = static_cast<unsigned char>(byte(device));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40); // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return text;
}

send_options parse(const config& settings, const std::vector<std::string>& args) {
  send_options options;
  options.api_version = settings.api_version;
  if (!settings.webhook_secrets.empty()) {
    options.secret = settings.webhook_secrets.front();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        throw std::invalid_argument(arg + " needs a value");
      }
      return args[++i];
    };
    if (arg == "--url") {
      options.url = value();
    } else if (arg == "--secret") {
      options.secret = value();
    } else if (arg == "--topic") {
      options.topic = value();
    } else if (arg == "--shop") {
      options.shop = value();
    } else if (arg == "--webhook-id") {
      options.webhook_id = value();
    } else if (arg == "--event-id") {
      options.event_id = value();
    } else if (arg == "--api-version") {
      options.api_version = value();
    } else if (arg == "--triggered-at") {
      options.triggered_at = value();
    } else if (arg == "--insecure") {
      options.insecure = true;
    } else if (arg == "-h" || arg == "--help") {
      throw std::invalid_argument("");
    } else if (arg.rfind("--", 0) == 0 || !options.file.empty()) {
      throw std::invalid_argument("unexpected argument " + arg);
    } else {
      options.file = arg;
    }
  }
  if (options.file.empty()) {
    throw std::invalid_argument("no payload file given");
  }
  if (options.secret.empty()) {
    throw std::invalid_argument("no secret: pass --secret or set SHOPMIRROR_WEBHOOK_SECRETS");
  }
  return options;
}

std::string read_payload(const std::string& file) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw std::invalid_argument("cannot read " + file);
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

int run_send(const config& settings, const std::vector<std::string>& args) {
  send_options options;
  std::string body;
  try {
    options = parse(settings, args);
    body = read_payload(options.file);
  } catch (const std::invalid_argument& e) {
    if (*e.what() != '\0') {
      std::cerr << "shopmirror send: " << e.what() << "\n";
    }
    std::cerr << usage;
    return 2;
  }
  const auto url = net::parse_url(options.url);
  if (!url) {
    std::cerr << "shopmirror send: --url " << options.url << " is not an http(s) URL\n";
    return 2;
  }
  net::header_list headers = {
      {"Content-Type", "application/json"},
      {"X-Shopify-Topic", options.topic},
      {"X-Shopify-Hmac-Sha256", crypto::shopify_signature(options.secret, body)},
      {"X-Shopify-Shop-Domain", options.shop},
      {"X-Shopify-API-Version", options.api_version},
      {"X-Shopify-Webhook-Id", options.webhook_id.empty() ? random_id() : options.webhook_id},
      {"X-Shopify-Triggered-At", options.triggered_at.empty()
                                     ? model::format_rfc3339(model::now())
                                     : options.triggered_at},
      {"User-Agent", "Shopify-Captain-Hook"},
  };
  if (!options.event_id.empty()) {
    headers.emplace_back("X-Shopify-Event-Id", options.event_id);
  }
  net::client_settings client_options;
  client_options.verify_tls = !options.insecure;
  client_options.request_timeout = std::chrono::seconds(10);
  try {
    net::http_client client(*url, client_options);
    const auto response = client.request("POST", url->target, headers, body);
    std::cout << "HTTP " << response.status << " " << response.body << "\n";
    return response.status >= 200 && response.status < 300 ? 0 : 1;
  } catch (const net::transport_error& e) {
    std::cerr << "shopmirror send: " << e.what() << "\n";
    return 1;
  }
}

} // namespace shopmirror::ingest
