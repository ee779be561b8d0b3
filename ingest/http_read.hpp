#pragma once

// Reading one request off a connection: the step of the HTTP server between
// a request's first byte and its last, with its limits and the answers it
// sends on its own. A template over the stream, so that the server runs it
// on a tcp_stream (with deadlines) and the fuzzer and tests on Beast's
// test::stream, through the same code.

#include "ingest/http_server.hpp"
#include "ingest/http_types.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>

namespace shopmirror::ingest {

/// The limits and deadlines of reading one request.
struct read_limits {
  std::size_t header_limit;
  /// From the first byte of a request to the end of its body.
  std::chrono::milliseconds read_timeout;
  std::chrono::milliseconds write_timeout;
};

/// The server's limits for reading a request.
inline read_limits read_limits_of(const server_settings& settings) {
  return {settings.header_limit, settings.read_timeout, settings.write_timeout};
}

/// What reading one request came to. With neither a request nor an early
/// answer, the connection is over: whatever answer it was owed is sent.
struct request_read {
  /// The request, read whole within its limits.
  std::optional<http_request> request;
  /// The application's answer from the header, to a request with no body to
  /// skip: it is sent like any answer, and the connection stays usable.
  std::optional<http_response> early;
  http::verb method = http::verb::unknown;
  bool keep_alive = false;
};

namespace detail {

// A tcp_stream bounds each read and write with a deadline; a stream without
// one (Beast's test::stream) is bounded by the bytes it was given.
template <class Stream> void expires_after(Stream& stream, std::chrono::milliseconds timeout) {
  if constexpr (requires { stream.expires_after(timeout); }) {
    stream.expires_after(timeout);
  }
}

template <class Stream> void shutdown_send(Stream& stream) {
  if constexpr (requires { stream.socket(); }) {
    boost::beast::error_code ignored;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }
}

} // namespace detail

/// Sends an answer decided without reading the body, then closes in a way
/// that lets the client read it: stop sending, drain what it is still
/// sending for a moment, then close. Closing with unread input would reset
/// the connection and the client might never see the answer.
template <class Stream>
boost::asio::awaitable<void>
answer_and_close(Stream& stream, boost::beast::flat_buffer& buffer, http_response response,
                 std::chrono::milliseconds write_timeout, http::verb method = http::verb::post) {
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  response.keep_alive(false);
  response.prepare_payload();
  omit_body_for_head(response, method);
  detail::expires_after(stream, write_timeout);
  auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
  if (write_ec) {
    co_return;
  }
  detail::shutdown_send(stream);
  detail::expires_after(stream, std::chrono::milliseconds(500));
  std::size_t drained = 0;
  while (drained < 1024 * 1024) {
    buffer.clear();
    auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(16384), use_tuple);
    if (read_ec) {
      break;
    }
    drained += n;
  }
}

/// Answers a request that could not be read, where it is owed an answer
/// (answer_for_read_error), and closes.
template <class Stream>
boost::asio::awaitable<void> answer_read_error(Stream& stream, boost::beast::flat_buffer& buffer,
                                               const boost::beast::error_code& ec,
                                               std::chrono::milliseconds write_timeout) {
  if (auto answer = answer_for_read_error(ec)) {
    co_await answer_and_close(stream, buffer, std::move(*answer), write_timeout);
  }
}

/// The body of a request whose header `parser` holds, within `body_limit`:
/// `100 Continue` first when the client asked for it. What cannot be read
/// is answered as read_request says.
template <class Stream>
boost::asio::awaitable<std::optional<http_request>>
read_body(Stream& stream, boost::beast::flat_buffer& buffer,
          http::request_parser<http::string_body>& parser, std::uint64_t body_limit,
          const read_limits& limits) {
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  parser.body_limit(body_limit);
  // Beast compares a Content-Length with the limit only as the header
  // ends, before the route had set one: without this, a declared length
  // over the limit would be read (and its buffer reserved) in full.
  if (parser.content_length().value_or(0) > body_limit) {
    co_await answer_and_close(stream, buffer, body_over_the_limit(), limits.write_timeout,
                              parser.get().method());
    co_return std::nullopt;
  }
  if (boost::beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> go_on{http::status::continue_, 11};
    auto [ec, n] = co_await http::async_write(stream, go_on, use_tuple);
    if (ec) {
      co_return std::nullopt;
    }
  }
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (ec) {
    co_await answer_read_error(stream, buffer, ec, limits.write_timeout);
    co_return std::nullopt;
  }
  co_return parser.release();
}

/// Reads one request from `stream`, whose bytes so far are in `buffer`: the
/// header within its limit, the framing checks, the decision `decide` makes
/// from the header (an early answer, the body's limit), `100 Continue` when
/// asked for, then the body. A request past a limit or malformed is answered
/// here and ends the connection; a timeout or a closed connection ends it
/// unanswered (nobody is left to read an answer). The server decides with
/// its application's on_header; the Admin API stand-in of the tests, which
/// answers as Shopify does, reads its requests through this too.
template <class Stream, class Decide>
requires std::is_invocable_r_v<header_decision, Decide&, const http_header&>
    boost::asio::awaitable<request_read> read_request(Stream& stream,
                                                      boost::beast::flat_buffer& buffer,
                                                      const read_limits& limits, Decide decide) {
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  request_read result;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser.body_limit(boost::none);
  detail::expires_after(stream, limits.read_timeout);
  auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
  if (ec) {
    co_await answer_read_error(stream, buffer, ec, limits.write_timeout);
    co_return result;
  }
  result.method = parser.get().method();
  result.keep_alive = parser.get().keep_alive();
  if (auto refusal = answer_for_framing(parser.get().base(), parser.chunked())) {
    co_await answer_and_close(stream, buffer, std::move(*refusal), limits.write_timeout,
                              result.method);
    co_return result;
  }
  header_decision decision = decide(parser.get().base());
  if (!decision.early) {
    result.request = co_await read_body(stream, buffer, parser, decision.body_limit, limits);
  } else if (parser.chunked() || parser.content_length().value_or(0) > 0) {
    co_await answer_and_close(stream, buffer, std::move(*decision.early), limits.write_timeout,
                              result.method);
  } else {
    // No body to skip: the connection stays usable.
    result.early = std::move(decision.early);
  }
  co_return result;
}

/// read_request() deciding with the application's on_header.
template <class Stream>
boost::asio::awaitable<request_read> read_request(Stream& stream, boost::beast::flat_buffer& buffer,
                                                  const read_limits& limits,
                                                  http_application& application) {
  return read_request(stream, buffer, limits,
                      [&application](const http_header& header) -> header_decision {
                        return application.on_header(header);
                      });
}

} // namespace shopmirror::ingest
