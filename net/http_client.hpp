#pragma once

#include "net/url.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shopmirror::net {

/// Why a request got no HTTP answer at all.
class transport_error : public std::runtime_error {
public:
  enum class kind { resolve, connect, tls, timeout, closed, protocol };
  transport_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}
  kind what_kind() const noexcept { return kind_; }

private:
  kind kind_;
};

struct client_settings {
  std::chrono::milliseconds connect_timeout{5000};
  /// From sending the request to the end of the response.
  std::chrono::milliseconds request_timeout{30000};
  /// Verify the server's certificate against the system's CA store (and
  /// its name). Off only for `shopmirror send --insecure`.
  bool verify_tls = true;
  /// Largest response body kept in memory (streamed bodies are not bounded).
  std::uint64_t max_body_bytes = 64ULL * 1024 * 1024;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

struct client_response {
  unsigned status = 0;
  header_list headers;
  std::string body;

  /// The first value of a header (names case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

/// A blocking HTTP/1.1 client for one origin over a kept-alive connection,
/// plain or TLS (SNI, certificate verification). Every step has a deadline.
/// A connection the server closed is reopened once. Not thread-safe.
class http_client {
public:
  http_client(url_parts origin, client_settings settings = {});
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  http_client(http_client&&) noexcept;
  http_client& operator=(http_client&&) noexcept;

  /// Sends a request to `target` (a path and query) and reads the whole
  /// response. Throws transport_error when there is no HTTP answer.
  client_response request(std::string_view method, std::string_view target,
                          const header_list& headers, std::string_view body = {});

  /// Like request(), but hands the body of a 2xx response to `sink` piece
  /// by piece as it arrives, so memory stays flat whatever its size; the
  /// returned body is empty then (for any other status it holds the first
  /// 64 KiB of the error page). `sink` returns false to abandon the transfer.
  client_response request_streaming(std::string_view method, std::string_view target,
                                    const header_list& headers,
                                    const std::function<bool(std::string_view)>& sink);

  /// Drops the connection (the next request opens a new one).
  void disconnect() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace shopmirror::net
