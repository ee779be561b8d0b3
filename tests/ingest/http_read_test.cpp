// The server's request reader (ingest/http_read.hpp) on Beast's test::stream:
// bytes given one at a time, limits, and what the client is sent, without a
// socket or a clock. The same reader the server runs and the HTTP fuzzer
// drives.

#include "ingest/http_read.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <exception>
#include <string>
#include <vector>

using namespace shopmirror;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr std::uint64_t body_limit = 16;

// Bodies of up to 16 bytes; /early is answered from its header.
class early_route final : public ingest::http_application {
public:
  ingest::header_decision on_header(const ingest::http_header& header) override {
    if (header.target() != "/early") {
      return {std::nullopt, body_limit};
    }
    return {ingest::make_response(http::status::not_found, "{}"), body_limit};
  }
  asio::awaitable<ingest::http_response> handle(ingest::http_request,
                                                ingest::request_context) override {
    co_return ingest::make_response(http::status::ok, "");
  }
};

// What reading a connection's bytes came to: each read in turn, until one
// ends the connection, and what the client was sent.
struct connection_read {
  std::vector<ingest::request_read> reads;
  std::string sent;
};

connection_read read_all(const std::string& wire, std::size_t piece) {
  asio::io_context context;
  beast::test::stream stream(context);
  beast::test::stream client(context);
  stream.connect(client);
  stream.append(wire);
  stream.close_remote();
  stream.read_size(piece);
  early_route route;
  const ingest::read_limits limits{1024, std::chrono::seconds(10), std::chrono::seconds(10)};
  connection_read result;
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        for (;;) {
          ingest::request_read read = co_await ingest::read_request(stream, buffer, limits, route);
          const bool over = !read.request && !read.early;
          result.reads.push_back(std::move(read));
          if (over) {
            co_return;
          }
        }
      },
      [](const std::exception_ptr& error) {
        if (error) {
          std::rethrow_exception(error);
        }
      });
  context.run();
  result.sent = std::string(client.str());
  return result;
}

// The status line of the answer a connection ended with, after one read.
std::string closing_answer(const std::string& wire) {
  const auto r = read_all(wire, 64);
  REQUIRE(r.reads.size() == 1);
  CHECK_FALSE(r.reads[0].request);
  CHECK_FALSE(r.reads[0].early);
  return r.sent.substr(0, r.sent.find("\r\n"));
}

} // namespace

TEST_SUITE("ingest") {

  TEST_CASE("read_request: pipelined requests arriving a byte at a time are each read whole") {
    const auto r = read_all("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                            "GET /early HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "2\r\nde\r\n0\r\n\r\n",
                            1);
    REQUIRE(r.reads.size() == 4);
    REQUIRE(r.reads[0].request);
    CHECK(r.reads[0].request->target() == "/a");
    CHECK(r.reads[0].request->body() == "abc");
    CHECK(r.reads[0].keep_alive);
    REQUIRE(r.reads[1].early);
    CHECK(r.reads[1].early->result() == http::status::not_found);
    CHECK(r.reads[1].keep_alive);
    REQUIRE(r.reads[2].request);
    CHECK(r.reads[2].request->body() == "de");
    // The client closed after the third: the fourth read ends the connection
    // with nothing sent.
    CHECK_FALSE(r.reads[3].request);
    CHECK_FALSE(r.reads[3].early);
    CHECK(r.sent.empty());
  }

  TEST_CASE("read_request: a declared body over the limit is answered 413 before it is read") {
    // Only the declared length is over the limit, and the client never sends
    // the body: reading it would end in the client's silence, unanswered.
    const auto r = read_all("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                            "0123456789",
                            5);
    REQUIRE(r.reads.size() == 1);
    CHECK_FALSE(r.reads[0].request);
    CHECK(r.sent.rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(r.sent.find("Connection: close") != std::string::npos);
  }

  TEST_CASE(
      "read_request: what breaks a limit or the syntax is answered, and ends the connection") {
    CHECK(closing_answer("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "11\r\n01234567890123456\r\n0\r\n\r\n") ==
          "HTTP/1.1 413 Payload Too Large");
    CHECK(closing_answer("GET /a HTTP/1.1\r\nX-Long: " + std::string(2048, 'x') + "\r\n\r\n") ==
          "HTTP/1.1 431 Request Header Fields Too Large");
    CHECK(closing_answer("GET /a HTTP/1.1\r\nNo colon here\r\n\r\n") == "HTTP/1.1 400 Bad Request");
    // An early answer to a request with a body: the body is not read.
    CHECK(closing_answer("POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                         "GET /a HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 404 Not Found");
  }

  TEST_CASE("read_request: 100-continue is sent before the body is read") {
    const auto r = read_all("POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                            "Content-Length: 2\r\n\r\nok",
                            64);
    REQUIRE(r.reads.size() == 2);
    REQUIRE(r.reads[0].request);
    CHECK(r.reads[0].request->body() == "ok");
    CHECK(r.sent == "HTTP/1.1 100 Continue\r\n\r\n");
  }

} // TEST_SUITE
