// Raw bytes through the server's request path: the server's own request
// reader (ingest/http_read.hpp: Beast's parser with the server's header
// limit, the framing checks, the route's answer from the header alone, the
// body limit, 100-continue) over a Beast test stream, with the webhook
// route's decision (405, 413 before the body), then classify_webhook
// (verify, parse, map). Bytes arrive in pieces whose size the input
// chooses, as from a socket, and several requests may follow each other
// (pipelining). Whatever is fuzzed, no request may get past the limits.

#include "crypto/hmac.hpp"
#include "crypto/signature.hpp"
#include "fuzz/fuzz_input.hpp"
#include "ingest/http_read.hpp"
#include "ingest/webhook.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <cstdlib>
#include <exception>
#include <string>

using namespace shopmirror;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

const std::string secret = "fuzz-secret";
const crypto::webhook_verifier verifier({secret});
constexpr std::uint64_t max_body_bytes = 64 * 1024;
const ingest::read_limits limits = ingest::read_limits_of(ingest::server_settings{});

// The webhook route as the service has it: its answer from the header and
// its body limit, then the classification of what was read.
class webhook_route final : public ingest::http_application {
public:
  explicit webhook_route(bool sign) : sign_(sign) {}

  ingest::header_decision on_header(const ingest::http_header& header) override {
    return {ingest::webhook_answer_from_header(header, max_body_bytes), max_body_bytes};
  }

  asio::awaitable<ingest::http_response> handle(ingest::http_request request,
                                                ingest::request_context) override {
    if (request.body().size() > max_body_bytes) {
      std::abort(); // a body past the limit got through
    }
    // Signed as it arrives, so that parsing and mapping are reached.
    if (sign_) {
      request.set("X-Shopify-Hmac-Sha256", crypto::shopify_signature(secret, request.body()));
    }
    const auto verdict = ingest::classify_webhook(request.method(), request, request.body(),
                                                  verifier, max_body_bytes, model::timestamp{},
                                                  [](std::string_view) { return true; });
    if (const auto* rejection = std::get_if<ingest::webhook_rejection>(&verdict)) {
      if (rejection->status == http::status::ok) {
        std::abort(); // a rejection is never a 200
      }
    } else if (request.method() != http::verb::post) {
      std::abort(); // only POST reaches the apply path
    }
    co_return ingest::make_response(http::status::ok, "{}");
  }

private:
  bool sign_;
};

// The server's loop over one connection, without its sockets and clocks.
asio::awaitable<void> serve(beast::test::stream& stream, webhook_route& route) {
  beast::flat_buffer buffer;
  for (int requests = 0; requests < 16; ++requests) {
    ingest::request_read read = co_await ingest::read_request(stream, buffer, limits, route);
    if (read.request) {
      co_await route.handle(std::move(*read.request), {});
    } else if (!read.early) {
      co_return; // answered and closed, or the client went away
    }
    if (!read.keep_alive) {
      co_return;
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t control = in.byte();
  webhook_route route((control & 64U) != 0);

  asio::io_context context;
  beast::test::stream stream(context);
  beast::test::stream client(context);
  stream.connect(client); // the server's answers go to the client, unread
  stream.append(in.rest());
  stream.close_remote(); // after the input, the client has nothing more to send
  // How many bytes arrive at a time (1..63, or all at once).
  if ((control & 63U) != 0) {
    stream.read_size(control & 63U);
  }
  asio::co_spawn(context, serve(stream, route), [](const std::exception_ptr& error) {
    if (error) {
      std::rethrow_exception(error);
    }
  });
  context.run();
  return 0;
}
