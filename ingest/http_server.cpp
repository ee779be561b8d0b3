#include "ingest/http_server.hpp"

#include "ingest/json_writer.hpp"
#include "telemetry/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

#include <cinttypes>
#include <cstdio>

namespace shopmirror::ingest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

// Sends a response we decided on without reading the body, then closes in a
// way that lets the client read it: stop sending, drain what it is still
// sending for a moment, then close. Closing with unread input would reset
// the connection and the client might never see the answer.
// A response to HEAD is the header a GET would get, without the body: a
// client reading it would otherwise take the body for the next response.
void omit_body_for_head(http_response& response, http::verb method) {
  if (method == http::verb::head) {
    response.body().clear(); // after prepare_payload: Content-Length stays
  }
}

asio::awaitable<void> answer_and_close(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       http_response response,
                                       std::chrono::milliseconds write_timeout,
                                       http::verb method = http::verb::post) {
  response.keep_alive(false);
  response.prepare_payload();
  omit_body_for_head(response, method);
  stream.expires_after(write_timeout);
  auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
  if (write_ec) {
    co_return;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::milliseconds(500));
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

http_response body_over_the_limit() {
  return make_response(http::status::payload_too_large, json_error("body over the limit"));
}

// What a client gets for a request that could not be read: a limit it broke
// or a malformed message is answered; a timeout or a closed connection is not
// (there is nobody left to read an answer).
std::optional<http_response> answer_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::header_limit) {
    return make_response(http::status::request_header_fields_too_large,
                         json_error("headers too large"));
  }
  if (ec == http::error::body_limit) {
    return body_over_the_limit();
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return make_response(http::status::bad_request, json_error("malformed request"));
  }
  return std::nullopt;
}

std::string client_address(const tcp::socket& socket) {
  beast::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("unknown") : endpoint.address().to_string();
}

// The client a trusted proxy speaks for: X-Real-IP, else the last address
// in X-Forwarded-For (the one the proxy itself saw).
std::string forwarded_client(const http_request& request, const std::string& peer,
                             const std::vector<std::string>& trusted) {
  if (std::find(trusted.begin(), trusted.end(), peer) == trusted.end()) {
    return peer;
  }
  std::string_view named = request["X-Real-IP"];
  if (named.empty()) {
    named = request["X-Forwarded-For"];
    if (const auto comma = named.rfind(','); comma != std::string_view::npos) {
      named.remove_prefix(comma + 1);
    }
  }
  while (!named.empty() && named.front() == ' ') {
    named.remove_prefix(1);
  }
  const bool plausible = !named.empty() && named.size() <= 64 &&
                         named.find_first_not_of("0123456789abcdefABCDEF.:") == std::string_view::npos;
  return plausible ? std::string(named) : peer;
}

bool is_plain_id(std::string_view value) {
  return !value.empty() && value.size() <= 128 &&
         std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

} // namespace

// What the server knows of a connection, for draining: reached only through
// posts to the connection's strand, so it needs no lock.
struct http_server::connection_state {
  asio::any_io_executor executor;
  beast::tcp_stream* stream = nullptr;
  bool idle = true;
};

http_server::http_server(server_settings settings, http_application& application)
    : settings_(std::move(settings)), application_(application), context_(),
      acceptor_(asio::make_strand(context_)) {}

http_server::~http_server() { stop(); }

std::uint16_t http_server::listen() {
  tcp::resolver resolver(context_);
  const auto results = resolver.resolve(settings_.listen.host,
                                        std::to_string(settings_.listen.port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service);
  const tcp::endpoint endpoint = *results.begin();
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  return acceptor_.local_endpoint().port();
}

void http_server::run() {
  auto guard = asio::make_work_guard(context_);
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  const std::size_t count = std::max<std::size_t>(1, settings_.io_threads);
  for (std::size_t i = 1; i < count; ++i) {
    threads.emplace_back([this] { context_.run(); });
  }
  context_.run();
  for (auto& thread : threads) {
    thread.join();
  }
}

void http_server::begin_drain() {
  if (draining_.exchange(true)) {
    return;
  }
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  std::lock_guard lock(states_mutex_);
  for (const auto& state : states_) {
    asio::post(state->executor, [state] {
      if (state->idle && state->stream != nullptr) {
        state->stream->cancel();
      }
    });
  }
}

void http_server::stop() { context_.stop(); }

asio::awaitable<void> http_server::accept_loop() {
  while (!draining_.load()) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(context_), use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      break;
    }
    if (ec) {
      // Out of file descriptors, usually: pause rather than spin.
      telemetry::log_event(telemetry::level::warn, "accept_failed").field("error", ec.message());
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (connections_.load() >= settings_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      if (settings_.on_connection_refused) {
        settings_.on_connection_refused();
      }
      continue;
    }
    connections_.fetch_add(1);
    auto state = std::make_shared<connection_state>();
    state->executor = socket.get_executor();
    {
      std::lock_guard lock(states_mutex_);
      states_.insert(state);
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(std::move(socket), state),
                   [this, state](const std::exception_ptr& error) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         telemetry::log_event(telemetry::level::error, "connection_failed")
                             .field("error", e.what());
                       }
                     }
                     {
                       std::lock_guard lock(states_mutex_);
                       states_.erase(state);
                     }
                     connections_.fetch_sub(1);
                   });
  }
}

asio::awaitable<void> http_server::serve_connection(tcp::socket socket,
                                                    std::shared_ptr<connection_state> state) {
  const std::string client = client_address(socket);
  beast::tcp_stream stream(std::move(socket));
  state->stream = &stream;
  struct forget_stream {
    connection_state& s;
    ~forget_stream() { s.stream = nullptr; }
  } forget{*state};

  beast::flat_buffer buffer;
  for (;;) {
    // Wait for the first byte of the next request (keep-alive idle time).
    state->idle = true;
    if (buffer.size() == 0) {
      if (draining_.load()) {
        break;
      }
      stream.expires_after(settings_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(8192), use_tuple);
      if (ec) {
        break;
      }
      buffer.commit(n);
    }
    state->idle = false;
    const auto started = std::chrono::steady_clock::now();

    // The header: the route decides what the body may be before it is read.
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(settings_.header_limit));
    parser.body_limit(boost::none);
    stream.expires_after(settings_.read_timeout);
    {
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      if (ec) {
        if (auto answer = answer_for_read_error(ec)) {
          co_await answer_and_close(stream, buffer, std::move(*answer), settings_.write_timeout);
        }
        break;
      }
    }
    const http::verb method = parser.get().method();
    if (auto refusal = answer_for_framing(parser.get().base(), parser.chunked())) {
      co_await answer_and_close(stream, buffer, std::move(*refusal), settings_.write_timeout,
                                method);
      break;
    }
    header_decision decision = application_.on_header(parser.get().base());
    if (decision.early) {
      const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
      if (has_body) {
        co_await answer_and_close(stream, buffer, std::move(*decision.early),
                                  settings_.write_timeout, method);
        break;
      }
      // No body to skip: the connection stays usable.
      http_response response = std::move(*decision.early);
      response.keep_alive(parser.get().keep_alive() && !draining_.load());
      response.prepare_payload();
      omit_body_for_head(response, method);
      stream.expires_after(settings_.write_timeout);
      auto [ec, n] = co_await http::async_write(stream, response, use_tuple);
      if (ec || !response.keep_alive()) {
        break;
      }
      continue;
    }
    parser.body_limit(decision.body_limit);
    // Beast compares a Content-Length with the limit only as the header
    // ends, before the route had set one: without this, a declared length
    // over the limit would be read (and its buffer reserved) in full.
    if (parser.content_length().value_or(0) > decision.body_limit) {
      co_await answer_and_close(stream, buffer, body_over_the_limit(), settings_.write_timeout,
                                method);
      break;
    }
    if (iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      auto [ec, n] = co_await http::async_write(stream, go_on, use_tuple);
      if (ec) {
        break;
      }
    }
    {
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (ec) {
        if (auto answer = answer_for_read_error(ec)) {
          co_await answer_and_close(stream, buffer, std::move(*answer), settings_.write_timeout);
        }
        break;
      }
    }

    http_request request = parser.release();
    const bool keep_alive = request.keep_alive();
    request_context context;
    context.client_address = forwarded_client(request, client, settings_.trusted_proxies);
    context.started = started;
    if (const auto id = request["X-Request-Id"]; is_plain_id(id)) {
      context.request_id = std::string(id);
    } else {
      char generated[24];
      std::snprintf(generated, sizeof generated, "sm-%" PRIx64, request_counter_.fetch_add(1) + 1);
      context.request_id = generated;
    }

    in_flight_.fetch_add(1);
    struct in_flight_guard {
      std::atomic<std::size_t>& n;
      ~in_flight_guard() { n.fetch_sub(1); }
    } guard{in_flight_};
    http_response response = co_await application_.handle(std::move(request), context);
    response.keep_alive(keep_alive && !draining_.load());
    response.prepare_payload();
    omit_body_for_head(response, method);
    stream.expires_after(settings_.write_timeout);
    auto [ec, n] = co_await http::async_write(stream, response, use_tuple);
    if (ec || !response.keep_alive()) {
      break;
    }
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

} // namespace shopmirror::ingest
