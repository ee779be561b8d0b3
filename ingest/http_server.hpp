#pragma once

#include "ingest/http_types.hpp"
#include "ingest/listen_address.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace shopmirror::ingest {

/// What the server decides once a request's header has arrived.
struct header_decision {
  /// An answer to send without reading the body (404, 405, 413).
  std::optional<http_response> early;
  /// The most body bytes this request may carry.
  std::uint64_t body_limit = 0;
};

/// The application behind the server: routing and handling. Both calls run
/// on the connection's strand and may run concurrently for other connections.
class http_application {
public:
  virtual ~http_application() = default;
  virtual header_decision on_header(const http_header& header) = 0;
  virtual boost::asio::awaitable<http_response> handle(http_request request,
                                                       request_context context) = 0;
};

struct server_settings {
  listen_address listen;
  /// From the first byte of a request to the end of its body.
  std::chrono::milliseconds read_timeout{10000};
  /// A keep-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout{75000};
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_connections = 1024;
  std::size_t header_limit = 16 * 1024;
  std::size_t io_threads = 2;
  /// Peers (nginx) whose X-Real-IP or X-Forwarded-For names the client.
  std::vector<std::string> trusted_proxies;
  /// Called for each connection refused because the cap was reached.
  std::function<void()> on_connection_refused;
};

/// An asynchronous HTTP/1.1 server: keep-alive, pipelining, a deadline on
/// every read and write, a cap on connections, and a graceful drain. Each
/// connection is a coroutine on a strand of its own.
class http_server {
public:
  http_server(server_settings settings, http_application& application);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens; throws std::system_error if the address is taken.
  /// Returns the bound port (useful with port 0).
  std::uint16_t listen();

  /// Runs the I/O threads until stop(); blocks.
  void run();

  /// Stops accepting, closes idle keep-alive connections, and lets requests
  /// in flight finish (their responses say `Connection: close`).
  void begin_drain();

  /// Stops the I/O threads at once; run() returns.
  void stop();

  std::size_t open_connections() const noexcept { return connections_.load(); }
  std::size_t requests_in_flight() const noexcept { return in_flight_.load(); }
  bool draining() const noexcept { return draining_.load(); }

  /// The context, for posting work (signals, timers) to the server's threads.
  boost::asio::io_context& context() noexcept { return context_; }

private:
  struct connection_state;
  boost::asio::awaitable<void> accept_loop();
  /// The request's client (through a trusted proxy) and id (its own
  /// X-Request-Id, or one made here).
  request_context context_for(const http_request& request, const std::string& peer,
                              std::chrono::steady_clock::time_point started);
  boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket,
                                                std::shared_ptr<connection_state> state);

  server_settings settings_;
  http_application& application_;
  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> request_counter_{0};
  std::mutex states_mutex_;
  std::unordered_set<std::shared_ptr<connection_state>> states_;
};

} // namespace shopmirror::ingest
