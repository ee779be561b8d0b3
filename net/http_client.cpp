#include "net/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>

namespace shopmirror::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool is_closed_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::eof ||
         ec == asio::ssl::error::stream_truncated;
}

} // namespace

std::string_view client_response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) {
      return value;
    }
  }
  return {};
}

struct http_client::impl {
  url_parts origin;
  client_settings settings;
  asio::io_context context;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  impl(url_parts o, client_settings s) : origin(std::move(o)), settings(s) {
    tls.set_default_verify_paths();
    tls.set_verify_mode(settings.verify_tls ? asio::ssl::verify_peer : asio::ssl::verify_none);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
  }

  bool connected() const { return plain.has_value() || secure.has_value(); }

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs the operations started by `start` to completion on our own context.
  template <class F> void run(F&& start) {
    context.restart();
    start();
    context.run();
  }

  void close() noexcept {
    beast::error_code ignored;
    if (secure) {
      beast::get_lowest_layer(*secure).socket().close(ignored);
    } else if (plain) {
      plain->socket().close(ignored);
    }
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  void connect() {
    close();
    beast::tcp_stream stream = open_tcp(resolve());
    if (!origin.tls) {
      plain.emplace(std::move(stream));
      return;
    }
    start_tls(std::move(stream));
  }

  tcp::resolver::results_type resolve() {
    tcp::resolver resolver(context);
    beast::error_code ec;
    tcp::resolver::results_type endpoints;
    asio::steady_timer timer(context, settings.connect_timeout);
    bool timed_out = false;
    run([&] {
      resolver.async_resolve(origin.host, origin.port,
                             [&](beast::error_code e, tcp::resolver::results_type r) {
                               ec = e;
                               endpoints = std::move(r);
                               timer.cancel();
                             });
      timer.async_wait([&](beast::error_code e) {
        if (!e) {
          timed_out = true;
          resolver.cancel();
        }
      });
    });
    if (timed_out) {
      throw transport_error(transport_error::kind::timeout,
                            "resolving " + origin.host + " timed out");
    }
    if (ec) {
      throw transport_error(transport_error::kind::resolve,
                            "cannot resolve " + origin.host + ": " + ec.message());
    }
    return endpoints;
  }

  beast::tcp_stream open_tcp(const tcp::resolver::results_type& endpoints) {
    beast::error_code ec;
    beast::tcp_stream stream(context);
    stream.expires_after(settings.connect_timeout);
    run([&] {
      stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    });
    if (ec) {
      throw transport_error(ec == beast::error::timeout ? transport_error::kind::timeout
                                                        : transport_error::kind::connect,
                            "cannot connect to " + origin.host + ":" + origin.port + ": " +
                                ec.message());
    }
    stream.socket().set_option(tcp::no_delay(true), ec);
    return stream;
  }

  void start_tls(beast::tcp_stream stream) {
    secure.emplace(std::move(stream), tls);
    // SNI, and the name the certificate must carry.
    // SSL_set_tlsext_host_name, without the macro's C cast.
    if (SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(origin.host.c_str())) != 1) {
      throw transport_error(transport_error::kind::tls, "cannot set the TLS server name");
    }
    if (settings.verify_tls) {
      secure->set_verify_callback(asio::ssl::host_name_verification(origin.host));
    }
    beast::error_code ec;
    beast::get_lowest_layer(*secure).expires_after(settings.connect_timeout);
    run([&] {
      secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    });
    if (ec) {
      close();
      throw transport_error(ec == beast::error::timeout ? transport_error::kind::timeout
                                                        : transport_error::kind::tls,
                            "TLS handshake with " + origin.host + " failed: " + ec.message());
    }
  }

  http::request<http::string_body> make_request(std::string_view method, std::string_view target,
                                                const header_list& headers,
                                                std::string_view body) const {
    http::request<http::string_body> request;
    request.method_string(method);
    request.target(target);
    request.version(11);
    const bool default_port =
        (origin.tls && origin.port == "443") || (!origin.tls && origin.port == "80");
    request.set(http::field::host, default_port ? origin.host : origin.host + ":" + origin.port);
    request.set(http::field::user_agent, "shopmirror");
    for (const auto& [name, value] : headers) {
      request.set(name, value);
    }
    request.body() = std::string(body);
    request.keep_alive(true);
    request.prepare_payload();
    return request;
  }

  template <class Stream, class Parser>
  beast::error_code write_and_read_header(Stream& stream, http::request<http::string_body>& request,
                                          Parser& parser) {
    beast::error_code ec;
    lowest().expires_after(settings.request_timeout);
    run([&] {
      http::async_write(stream, request, [&](beast::error_code e, std::size_t) { ec = e; });
    });
    if (ec) {
      return ec;
    }
    run([&] {
      http::async_read_header(stream, buffer, parser,
                              [&](beast::error_code e, std::size_t) { ec = e; });
    });
    return ec;
  }

  [[noreturn]] void fail(const beast::error_code& ec, std::string_view what) {
    close();
    const auto k = ec == beast::error::timeout ? transport_error::kind::timeout
                   : is_closed_error(ec)       ? transport_error::kind::closed
                                               : transport_error::kind::protocol;
    throw transport_error(k, std::string(what) + " " + origin.host + ": " + ec.message());
  }

  template <class Body>
  static void copy_headers(const http::response<Body>& from, client_response& to) {
    to.status = from.result_int();
    for (const auto& field : from) {
      to.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
  }

  template <class Stream>
  client_response exchange(Stream& stream, http::request<http::string_body>& request,
                           const std::function<bool(std::string_view)>* sink, bool& retryable) {
    if (sink == nullptr) {
      return read_whole(stream, request, retryable);
    }
    return read_streaming(stream, request, *sink, retryable);
  }

  /// The response with its body in memory (up to settings.max_body_bytes).
  template <class Stream>
  client_response read_whole(Stream& stream, http::request<http::string_body>& request,
                             bool& retryable) {
    client_response out;
    http::response_parser<http::string_body> parser;
    parser.body_limit(settings.max_body_bytes);
    beast::error_code ec = write_and_read_header(stream, request, parser);
    if (ec) {
      retryable = is_closed_error(ec);
      fail(ec, "no response from");
    }
    retryable = false;
    run([&] {
      http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    });
    if (ec) {
      fail(ec, "incomplete response from");
    }
    auto response = parser.release();
    copy_headers(response, out);
    out.body = std::move(response.body());
    if (!response.keep_alive()) {
      close();
    }
    return out;
  }

  /// The response with a 2xx body handed to `sink` piece by piece.
  template <class Stream>
  client_response read_streaming(Stream& stream, http::request<http::string_body>& request,
                                 const std::function<bool(std::string_view)>& sink,
                                 bool& retryable) {
    client_response out;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    beast::error_code ec = write_and_read_header(stream, request, parser);
    if (ec) {
      retryable = is_closed_error(ec);
      fail(ec, "no response from");
    }
    retryable = false;
    copy_headers(parser.get(), out);
    const bool successful = out.status / 100 == 2;
    constexpr std::size_t error_body_limit = 64 * 1024;
    std::array<char, 64 * 1024> chunk{};
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      lowest().expires_after(settings.request_timeout); // a deadline per piece
      run([&] {
        http::async_read_some(stream, buffer, parser,
                              [&](beast::error_code e, std::size_t) { ec = e; });
      });
      if (ec == http::error::need_buffer) {
        ec = {};
      }
      if (ec) {
        fail(ec, "incomplete response from");
      }
      const std::size_t got = chunk.size() - parser.get().body().size;
      if (!successful) {
        // An error page is no part of the resource: kept (bounded) for the
        // caller's message instead of reaching the sink.
        out.body.append(chunk.data(), std::min(got, error_body_limit - out.body.size()));
        continue;
      }
      if (got > 0 && !sink(std::string_view(chunk.data(), got))) {
        close(); // the rest of the body is abandoned with the connection
        return out;
      }
    }
    if (!parser.get().keep_alive()) {
      close();
    }
    return out;
  }

  client_response perform(std::string_view method, std::string_view target,
                          const header_list& headers, std::string_view body,
                          const std::function<bool(std::string_view)>* sink) {
    auto request = make_request(method, target, headers, body);
    // A kept-alive connection may have been closed by the server meanwhile:
    // then the request is sent once more on a new one.
    for (int attempt = 0;; ++attempt) {
      const bool reused = connected();
      if (!reused) {
        connect();
      }
      bool retryable = false;
      try {
        if (secure) {
          return exchange(*secure, request, sink, retryable);
        }
        return exchange(*plain, request, sink, retryable);
      } catch (const transport_error&) {
        if (!(reused && retryable && attempt == 0)) {
          throw;
        }
      }
    }
  }
};

http_client::http_client(url_parts origin, client_settings settings)
    : impl_(std::make_unique<impl>(std::move(origin), settings)) {}

http_client::~http_client() = default;
http_client::http_client(http_client&&) noexcept = default;
http_client& http_client::operator=(http_client&&) noexcept = default;

client_response http_client::request(std::string_view method, std::string_view target,
                                     const header_list& headers, std::string_view body) {
  return impl_->perform(method, target, headers, body, nullptr);
}

client_response http_client::request_streaming(std::string_view method, std::string_view target,
                                               const header_list& headers,
                                               const std::function<bool(std::string_view)>& sink) {
  return impl_->perform(method, target, headers, {}, &sink);
}

void http_client::disconnect() noexcept {
  impl_->close();
}

} // namespace shopmirror::net
