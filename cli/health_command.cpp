// `shopmirror health`: asks the running service whether it is ready, so a
// container's health check needs nothing but the binary it already has.

#include "cli/commands.hpp"
#include "net/http_client.hpp"

#include <cstdlib>
#include <iostream>

namespace shopmirror::cli {

const command_spec health_command{
    .name = "health",
    .usage = "usage: shopmirror health [--url URL]\n"
             "  Asks the running service whether it is ready (GET /readyz) and exits 0 when it\n"
             "  is, 1 when it is not or does not answer within 2 s. URL defaults to /readyz at\n"
             "  SHOPMIRROR_LISTEN (a wildcard address is asked on loopback). For HEALTHCHECK.\n",
    .valued = {"--url"},
};

namespace {

// The service listens on the wildcard; it is asked on loopback.
std::string readyz_url(ingest::listen_address listen) {
  if (listen.host.empty() || listen.host == "0.0.0.0") {
    listen.host = "127.0.0.1";
  } else if (listen.host == "::") {
    listen.host = "::1";
  }
  const bool v6 = listen.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + listen.host + "]" : listen.host) + ":" +
         std::to_string(listen.port) + "/readyz";
}

} // namespace

int run_health(const std::vector<std::string>& words) {
  const arguments args = checked_arguments(health_command, words);
  std::string address = args.value_or("--url", "");
  if (address.empty()) {
    ingest::listen_address listen;
    // A one-shot command: no other thread runs.
    if (const char* text = std::getenv("SHOPMIRROR_LISTEN")) { // NOLINT(concurrency-mt-unsafe)
      try {
        listen = parse_listen("SHOPMIRROR_LISTEN", text);
      } catch (const config_error& e) {
        std::cerr << "shopmirror health: " << e.what() << "\n";
        return 1;
      }
    }
    address = readyz_url(listen);
  }
  const auto url = net::parse_url(address);
  if (!url) {
    return misuse(health_command, "shopmirror health: --url " + address + " is not an http(s) URL");
  }
  // Both within the image's HEALTHCHECK timeout (deploy/Dockerfile), so a
  // hung service is reported here rather than the check being killed.
  net::client_settings bounded;
  bounded.connect_timeout = std::chrono::milliseconds(1000);
  bounded.request_timeout = std::chrono::milliseconds(1000);
  bounded.max_body_bytes = 64 * 1024;
  try {
    net::http_client client(*url, bounded);
    const auto response = client.request("GET", url->target, {{"User-Agent", "shopmirror-health"}});
    const bool ready = response.status == 200;
    std::cout << (ready ? "ready" : "not ready") << ": HTTP " << response.status << " "
              << response.body << "\n";
    return ready ? 0 : 1;
  } catch (const std::exception& e) {
    std::cout << "not ready: " << address << ": " << e.what() << "\n";
    return 1;
  }
}

} // namespace shopmirror::cli
