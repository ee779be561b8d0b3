// The HTTP server's framing and limits, in this process: the server's own
// accept loop on port 0 of 127.0.0.1, an application that records what
// reaches it, and a client that writes raw bytes, so that a request can be
// pipelined, cut short or malformed at will.

#include "ingest/http_server.hpp"

#include <doctest/doctest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace shopmirror;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

namespace {

// Far beyond any honest wait, so that only a server that is stuck fails it.
constexpr auto stuck = 30s;
constexpr std::uint64_t body_limit = 16;

// Echoes target and body; a target of /early is answered from its header.
class recording_application final : public ingest::http_application {
public:
  ingest::header_decision on_header(const ingest::http_header& header) override {
    ingest::header_decision decision;
    if (header.target() == "/early") {
      decision.early = ingest::make_response(http::status::not_found, "{\"error\":\"early\"}");
    }
    decision.body_limit = body_limit;
    return decision;
  }

  boost::asio::awaitable<ingest::http_response> handle(ingest::http_request request,
                                                       ingest::request_context) override {
    std::string seen = std::string(request.target()) + ":" + request.body();
    {
      std::lock_guard lock(mutex_);
      handled_.push_back(seen);
    }
    co_return ingest::make_response(http::status::ok, seen, "text/plain");
  }

  std::vector<std::string> handled() const {
    std::lock_guard lock(mutex_);
    return handled_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::string> handled_;
};

// The server on a port of the kernel's choosing, on a thread of its own.
struct running_server {
  recording_application application;
  ingest::http_server server;
  std::uint16_t port = 0;
  std::thread thread;

  explicit running_server(ingest::server_settings settings = defaults())
      : server(std::move(settings), application) {
    port = server.listen();
    thread = std::thread([this] { server.run(); });
  }
  ~running_server() {
    server.stop();
    thread.join();
  }
  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;

  static ingest::server_settings defaults() {
    ingest::server_settings s;
    s.listen = {"127.0.0.1", 0};
    s.io_threads = 1;
    return s;
  }

  // Connections end on the server's side a moment after it closes them.
  bool wait_until_no_connections() const {
    const auto give_up = std::chrono::steady_clock::now() + stuck;
    while (server.open_connections() != 0) {
      if (std::chrono::steady_clock::now() >= give_up) {
        return false;
      }
      std::this_thread::sleep_for(1ms); // polling a gauge, not waiting for time to pass
    }
    return true;
  }
};

// A client that writes bytes exactly as given.
class raw_client {
public:
  explicit raw_client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot connect to the server under test");
    }
  }
  ~raw_client() { ::close(fd_); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        throw std::runtime_error("send failed");
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // No more bytes from this side: the server reads end of stream.
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }

  // Everything the server sends until it closes the connection.
  std::string read_until_closed() {
    std::string received;
    const auto give_up = std::chrono::steady_clock::now() + stuck;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up - std::chrono::steady_clock::now());
      pollfd readable{fd_, POLLIN, 0};
      REQUIRE_MESSAGE(left.count() > 0,
                      "the server never closed the connection; so far: " << received);
      if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        return received; // closed (or reset, after an answer was read)
      }
      received.append(chunk, static_cast<std::size_t>(n));
    }
  }

private:
  int fd_;
};

// The responses in `wire`, in order; fails the test on bytes that are not one.
std::vector<http::response<http::string_body>> parse_responses(const std::string& wire) {
  std::vector<http::response<http::string_body>> responses;
  std::string_view rest = wire;
  while (!rest.empty()) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    boost::beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    REQUIRE_MESSAGE(!ec, "not an HTTP response: " << rest);
    REQUIRE_MESSAGE(parser.is_done(), "a response cut short: " << rest);
    responses.push_back(parser.release());
    rest.remove_prefix(used);
  }
  return responses;
}

// The one answer to `bytes`, sent on a connection of their own that the
// server then closes.
http::response<http::string_body> sole_answer(std::uint16_t port, const std::string& bytes) {
  raw_client client(port);
  client.send(bytes);
  auto responses = parse_responses(client.read_until_closed());
  REQUIRE(responses.size() == 1);
  return std::move(responses[0]);
}

std::string request(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view extra_headers = "") {
  std::string text =
      std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n";
  text += extra_headers;
  if (!body.empty()) {
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return text + "\r\n" + std::string(body);
}

} // namespace

TEST_SUITE("ingest") {

  TEST_CASE("http_server: pipelined requests are each answered, in order, on one connection") {
    running_server s;
    raw_client client(s.port);
    // One write: the second request arrives while the first is being read.
    client.send(request("POST", "/first", "abc") + request("GET", "/early", "") +
                request("POST", "/third", "0123456789", "Connection: close\r\n"));
    const auto responses = parse_responses(client.read_until_closed());
    REQUIRE(responses.size() == 3);
    CHECK(responses[0].result() == http::status::ok);
    CHECK(responses[0].body() == "/first:abc");
    CHECK(responses[0].keep_alive());
    // Answered from its header: with no body to skip, the connection stays open.
    CHECK(responses[1].result() == http::status::not_found);
    CHECK(responses[1].keep_alive());
    CHECK(responses[2].result() == http::status::ok);
    CHECK(responses[2].body() == "/third:0123456789");
    CHECK_FALSE(responses[2].keep_alive());
    CHECK(s.application.handled() == std::vector<std::string>{"/first:abc", "/third:0123456789"});
  }

  TEST_CASE("http_server: a body over the route's limit is refused with 413 and never handled") {
    running_server s;
    const std::string over(body_limit + 1, 'x');
    SUBCASE("with a Content-Length") {
      const auto answer = sole_answer(s.port, request("POST", "/big", over));
      CHECK(answer.result() == http::status::payload_too_large);
      CHECK_FALSE(answer.keep_alive());
    }
    SUBCASE("chunked") {
      char size[16];
      std::snprintf(size, sizeof size, "%zx", over.size());
      const auto answer = sole_answer(
          s.port, "POST /big HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      std::string(size) + "\r\n" + over + "\r\n0\r\n\r\n");
      CHECK(answer.result() == http::status::payload_too_large);
      CHECK_FALSE(answer.keep_alive());
    }
    SUBCASE("a body at the limit is handled") {
      const auto answer = sole_answer(
          s.port, request("POST", "/fits", std::string(body_limit, 'x'), "Connection: close\r\n"));
      CHECK(answer.result() == http::status::ok);
      CHECK(s.application.handled().size() == 1);
      return;
    }
    CHECK(s.application.handled().empty());
  }

  TEST_CASE("http_server: a malformed request line is answered 400 and the connection closed") {
    running_server s;
    // What follows the bad line must not be read as a request of its own.
    const auto answer = sole_answer(s.port, "NOT A REQUEST\r\n\r\n" + request("GET", "/after", ""));
    CHECK(answer.result() == http::status::bad_request);
    CHECK_FALSE(answer.keep_alive());
    CHECK(s.application.handled().empty());
  }

  TEST_CASE("http_server: a request cut short by end of stream is not answered and not handled") {
    running_server s;
    SUBCASE("in its header") {
      raw_client client(s.port);
      client.send("POST /cut HTTP/1.1\r\nHost: te");
      client.finish_sending();
      CHECK(client.read_until_closed().empty());
    }
    SUBCASE("in its body") {
      raw_client client(s.port);
      client.send("POST /cut HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
      client.finish_sending();
      CHECK(client.read_until_closed().empty());
    }
    SUBCASE("after a complete request") {
      raw_client client(s.port);
      client.send(request("POST", "/whole", "abc") + "POST /cut HTTP/1.1\r\n");
      client.finish_sending();
      const auto responses = parse_responses(client.read_until_closed());
      REQUIRE(responses.size() == 1); // the first answered, the second not
      CHECK(responses[0].body() == "/whole:abc");
      CHECK(s.application.handled() == std::vector<std::string>{"/whole:abc"});
      CHECK(s.wait_until_no_connections());
      return;
    }
    CHECK(s.application.handled().empty());
    CHECK(s.wait_until_no_connections());
  }

  TEST_CASE(
      "http_server: a request half sent and then held is closed unanswered at the read deadline") {
    // The deadline is short so the test is quick; the wait for the close is
    // bounded only by `stuck`, so a slow machine cannot fail it.
    auto settings = running_server::defaults();
    settings.read_timeout = 200ms;
    running_server s(settings);
    raw_client client(s.port);
    client.send("POST /held HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(client.read_until_closed().empty());
    CHECK(s.application.handled().empty());
    CHECK(s.wait_until_no_connections());
  }
}
