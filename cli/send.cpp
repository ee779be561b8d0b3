// `shopmirror send`: a signed delivery, as Shopify would make it, to test a
// deployment end to end.

#include "cli/commands.hpp"
#include "cli/config_values.hpp"
#include "crypto/hmac.hpp"
#include "model/timestamp.hpp"
#include "net/http_client.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

namespace shopmirror::cli {

const command_spec send_command{
    .name = "send",
    .usage =
        "usage: shopmirror send [options] FILE   (FILE '-' reads standard input)\n"
        "  --url URL            where to post (default http://127.0.0.1:8080/webhooks/shopify)\n"
        "  --secret-file PATH   signing secret: the first line of PATH\n"
        "  --secret SECRET      signing secret, on the command line: other users of the\n"
        "                       machine can read it (ps); prefer --secret-file\n"
        "                       (neither given: the shop's own secret in SHOPMIRROR_CONFIG,\n"
        "                       else the first of SHOPMIRROR_WEBHOOK_SECRETS or of\n"
        "                       SHOPMIRROR_WEBHOOK_SECRETS_FILE, as the service reads them)\n"
        "  --topic TOPIC        X-Shopify-Topic (default products/update)\n"
        "  --shop DOMAIN        X-Shopify-Shop-Domain (default example.myshopify.com)\n"
        "  --webhook-id ID      X-Shopify-Webhook-Id (default: a new random id)\n"
        "  --event-id ID        X-Shopify-Event-Id (default: none)\n"
        "  --api-version V      X-Shopify-API-Version (default: SHOPMIRROR_API_VERSION)\n"
        "  --triggered-at TIME  X-Shopify-Triggered-At (default: now)\n"
        "  --insecure           do not verify the server's TLS certificate\n",
    .flags = {"--insecure"},
    .valued = {"--url", "--secret", "--secret-file", "--topic", "--shop", "--webhook-id",
               "--event-id", "--api-version", "--triggered-at"},
    .min_operands = 1,
    .max_operands = 1,
};

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

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    throw std::invalid_argument("--secret-file \"" + path + "\" cannot be read");
  }
  line = trim(line);
  if (line.empty()) {
    throw std::invalid_argument("--secret-file \"" + path + "\" holds no secret on its first line");
  }
  return line;
}

// The secret: given, else the shop's own, else the app's current one.
std::string secret_for(const config& settings, const arguments& args, const std::string& shop) {
  if (args.has("--secret") && args.has("--secret-file")) {
    throw std::invalid_argument("--secret and --secret-file: give one");
  }
  if (args.has("--secret")) {
    return args.value_or("--secret", "");
  }
  if (args.has("--secret-file")) {
    return first_line_of(args.value_or("--secret-file", ""));
  }
  for (const auto& configured : settings.shops) {
    if (configured.domain == shop && !configured.webhook_secrets.empty()) {
      return configured.webhook_secrets.front();
    }
  }
  if (!settings.webhook_secrets.empty()) {
    return settings.webhook_secrets.front();
  }
  throw std::invalid_argument("no secret: pass --secret-file or set SHOPMIRROR_WEBHOOK_SECRETS "
                              "(or SHOPMIRROR_WEBHOOK_SECRETS_FILE)");
}

send_options parse(const config& settings, const std::vector<std::string>& words) {
  const arguments args = checked_arguments(send_command, words);
  send_options options;
  options.url = args.value_or("--url", options.url);
  options.topic = args.value_or("--topic", options.topic);
  options.shop = args.value_or("--shop", options.shop);
  options.webhook_id = args.value_or("--webhook-id", "");
  options.event_id = args.value_or("--event-id", "");
  options.api_version = args.value_or("--api-version", settings.api_version);
  options.triggered_at = args.value_or("--triggered-at", "");
  options.insecure = args.has("--insecure");
  options.file = args.operands.front();
  options.secret = secret_for(settings, args, options.shop);
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
    return misuse(send_command, std::string("shopmirror send: ") + e.what());
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
      {"X-Shopify-Triggered-At",
       options.triggered_at.empty() ? model::format_rfc3339(model::now()) : options.triggered_at},
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

} // namespace shopmirror::cli
