#include "ingest/http_server.hpp"

#include "ingest/http_read.hpp"
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

// Sends an answer on a connection that stays open if the request and the
// server both want it; false when the connection is over.
asio::awaitable<bool> send_answer(beast::tcp_stream& stream, http_response response,
                                  bool keep_alive, http::verb method,
                                  std::chrono::milliseconds write_timeout) {
  response.keep_alive(keep_alive);
  response.prepare_payload();
  omit_body_for_head(response, method);
  stream.expires_after(write_timeout);
  auto [ec, n] = co_await http::async_write(stream, response, use_tuple);
  co_return !ec && response.keep_alive();
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
  const bool plausible =
      !named.empty() && named.size() <= 64 &&
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

http_server::~http_server() {
  stop();
}

std::uint16_t http_server::listen() {
  tcp::resolver resolver(context_);
  const auto results =
      resolver.resolve(settings_.listen.host, std::to_string(settings_.listen.port),
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

void http_server::stop() {
  context_.stop();
}

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

request_context http_server::context_for(const http_request& request, const std::string& peer,
                                         std::chrono::steady_clock::time_point started) {
  request_context context;
  context.client_address = forwarded_client(request, peer, settings_.trusted_proxies);
  context.started = started;
  if (const auto id = request["X-Request-Id"]; is_plain_id(id)) {
    context.request_id = std::string(id);
  } else {
    char generated[24];
    std::snprintf(generated, sizeof generated, "sm-%" PRIx64, request_counter_.fetch_add(1) + 1);
    context.request_id = generated;
  }
  return context;
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

  const read_limits limits = read_limits_of(settings_);
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

    request_read read = co_await read_request(stream, buffer, limits, application_);
    if (read.early) {
      if (!co_await send_answer(stream, std::move(*read.early),
                                read.keep_alive && !draining_.load(), read.method,
                                settings_.write_timeout)) {
        break;
      }
      continue;
    }
    if (!read.request) {
      break;
    }

    const request_context context = context_for(*read.request, client, started);
    in_flight_.fetch_add(1);
    struct in_flight_guard {
      std::atomic<std::size_t>& n;
      ~in_flight_guard() { n.fetch_sub(1); }
    } guard{in_flight_};
    http_response response = co_await application_.handle(std::move(*read.request), context);
    if (!co_await send_answer(stream, std::move(response), read.keep_alive && !draining_.load(),
                              read.method, settings_.write_timeout)) {
      break;
    }
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

} // namespace shopmirror::ingest
