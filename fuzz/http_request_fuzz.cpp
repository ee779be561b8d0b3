// Raw bytes through the server's request path: Beast's parser with the
// server's header limit, the framing checks, the webhook route's answer
// from the header alone
// (405, 413 before the body), the body limit, then classify_webhook (verify,
// parse, map). Bytes arrive in pieces whose size the input chooses, as from
// a socket, and several requests may follow each other (pipelining).
// Whatever is fuzzed, no request may get past the limits.

#include "crypto/hmac.hpp"
#include "crypto/signature.hpp"
#include "fuzz/fuzz_input.hpp"
#include "ingest/http_server.hpp"
#include "ingest/webhook.hpp"

#include <boost/beast/http/read.hpp>

#include <cstdlib>
#include <string>

using namespace shopmirror;
namespace http = boost::beast::http;

namespace {

const std::string secret = "fuzz-secret";
const crypto::webhook_verifier verifier({secret});
constexpr std::uint64_t max_body_bytes = 64 * 1024;
const std::size_t header_limit = ingest::server_settings{}.header_limit;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t control = in.byte();
  // How many bytes arrive at a time (1..64, or all at once).
  const std::size_t step = (control & 63U) == 0 ? size : (control & 63U);
  // Sign each body as it arrives, so that parsing and mapping are reached.
  const bool sign = (control & 64U) != 0;
  const std::string_view wire = in.rest();

  std::size_t consumed = 0;
  std::size_t arrived = 0;
  for (int requests = 0; requests < 16 && consumed < wire.size(); ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(header_limit));
    parser.body_limit(boost::none);
    parser.eager(false);
    bool body_phase = false;
    boost::beast::error_code ec;
    for (;;) {
      arrived = std::max(arrived, consumed);
      const std::size_t n =
          parser.put(boost::asio::buffer(wire.data() + consumed, arrived - consumed), ec);
      consumed += n;
      // Beast asks for more either with need_more or by taking nothing.
      const bool starved = ec == http::error::need_more || (!ec && n == 0 && !parser.is_done());
      if (ec && !starved) {
        return 0; // answered 400/413/431 and closed by the server
      }
      ec = {};
      if (!body_phase && parser.is_header_done()) {
        body_phase = true;
        if (ingest::answer_for_framing(parser.get().base(), parser.chunked())) {
          return 0; // refused (400, 501); the connection is closed
        }
        if (ingest::webhook_answer_from_header(parser.get().base(), max_body_bytes)) {
          return 0; // answered from the header; the connection is closed
        }
        parser.body_limit(max_body_bytes);
        parser.eager(true);
      }
      if (parser.is_done()) {
        break;
      }
      if (starved) {
        if (arrived >= wire.size()) {
          return 0; // the client went away mid-request: nothing to answer
        }
        arrived = std::min(wire.size(), arrived + step);
      }
    }
    http::request<http::string_body> request = parser.release();
    if (request.body().size() > max_body_bytes) {
      std::abort(); // a body past the limit got through
    }
    if (sign) {
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
    if (!request.keep_alive()) {
      break;
    }
  }
  return 0;
}
