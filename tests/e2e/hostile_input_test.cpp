// Hostile input against the real binary: malformed framing, hostile JSON
// under a valid signature, every malformed signature header, hostile headers
// and methods, and replayed captures. Each input has the answer it must get,
// and each is followed by a look at what it wrote: nothing, or, for signed
// garbage, exactly one dead letter (docs/ARCHITECTURE.md's table). Bytes go over raw
// loopback sockets so that nothing between the test and the server tidies
// them up.

#include "crypto/hmac.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

using namespace shopmirror;

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

const std::string secret = "hostile-secret";
constexpr std::size_t max_body = 65536;
constexpr milliseconds read_timeout{1000};

/// What came back on one connection.
struct wire_answer {
  std::string text;
  bool closed = false;    ///< the server ended the connection
  milliseconds elapsed{}; ///< until it did, or until we stopped waiting
};

/// Sends `bytes` on a fresh loopback connection, optionally ends our side
/// (`half_close`), and collects what the server sends until it closes or
/// `wait` passes.
wire_answer exchange(std::uint16_t port, const std::string& bytes, bool half_close = false,
                     milliseconds wait = milliseconds(4000)) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  wire_answer answer;
  const auto start = std::chrono::steady_clock::now();
  asio::async_write(socket, asio::buffer(bytes), [&](boost::system::error_code ec, std::size_t) {
    if (!ec && half_close) {
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
    }
  });
  std::array<char, 16384> chunk{};
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](boost::system::error_code ec, std::size_t n) {
      answer.text.append(chunk.data(), n);
      if (ec) {
        answer.closed = true;
        answer.elapsed =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
        return;
      }
      read_more();
    });
  };
  read_more();
  io.run_for(wait);
  if (!answer.closed) {
    answer.elapsed = wait;
  }
  return answer;
}

/// The status of every response in raw HTTP text, in order (a 100 Continue
/// included).
std::vector<int> statuses(const std::string& text) {
  std::vector<int> found;
  std::size_t at = 0;
  while ((at = text.find("HTTP/1.1 ", at)) != std::string::npos) {
    if (at == 0 || text.compare(at - 2, 2, "\r\n") == 0) {
      found.push_back(std::stoi(text.substr(at + 9, 3)));
    }
    at += 9;
  }
  return found;
}

/// The body of the one response in `text`.
std::string sole_body(const std::string& text) {
  REQUIRE(statuses(text).size() == 1);
  const auto at = text.find("\r\n\r\n");
  REQUIRE(at != std::string::npos);
  return text.substr(at + 4);
}

std::string product_body(std::int64_t id, const std::string& title = "Calm") {
  return test::product_json(
      {id, title, "2026-01-02T03:04:05Z", "a, b", "active", {{id * 10, "9.50", "SKU", 1, 3}}});
}

/// A complete webhook request; `hmac` replaces the real signature header
/// line(s) when given ("" leaves the header out).
std::string webhook_request(const std::string& body, const std::string& webhook_id,
                            std::optional<std::string> hmac_lines = std::nullopt,
                            const std::string& extra = "", bool close = true) {
  const std::string hmac =
      hmac_lines ? *hmac_lines
                 : "X-Shopify-Hmac-Sha256: " + crypto::shopify_signature(secret, body) + "\r\n";
  return "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "X-Shopify-Topic: products/update\r\nX-Shopify-Shop-Domain: hostile.myshopify.com\r\n"
         "X-Shopify-Webhook-Id: " +
         webhook_id + "\r\n" + hmac + extra + "Content-Length: " + std::to_string(body.size()) +
         "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
}

struct fixture {
  test::test_database db;
  test::service_process service{
      db.url(),
      {secret},
      {{"SHOPMIRROR_MAX_BODY_BYTES", std::to_string(max_body)},
       {"SHOPMIRROR_READ_TIMEOUT_MS", std::to_string(read_timeout.count())}}};
  int tried = 0;

  /// Delivery log, products, variants, refresh requests and dead letters,
  /// as one comparable line.
  std::string written() const {
    return db.scalar("select (select count(*) from shopify.webhook_deliveries) || '/' || "
                     "(select count(*) from shopify.products) || '/' || "
                     "(select count(*) from shopify.product_variants) || '/' || "
                     "(select count(*) from shopify.product_refresh_requests) || '/' || "
                     "(select count(*) from shopify.dead_letters)");
  }

  /// Sends one hostile input and checks the answers it gets (none: the
  /// connection is closed without one) and that nothing was written.
  wire_answer expect(const std::string& name, const std::string& bytes,
                     const std::vector<int>& answers, bool half_close = false,
                     milliseconds wait = milliseconds(4000)) {
    ++tried;
    const std::string before = written();
    const wire_answer answer = exchange(service.port(), bytes, half_close, wait);
    INFO("hostile input: " << name);
    INFO("answer: " << answer.text.substr(0, 200));
    CHECK(statuses(answer.text) == answers);
    CHECK(written() == before);
    return answer;
  }

  /// Sends a signed body that is garbage: one dead letter holding exactly
  /// these bytes, logged as such, and nothing else written.
  void expect_dead_letter(const std::string& name, const std::string& body,
                          const std::string& reason_part) {
    ++tried;
    const std::string id = "dead-" + std::to_string(tried);
    const std::string products_before =
        db.scalar("select count(*) from shopify.products") + "/" +
        db.scalar("select count(*) from shopify.product_refresh_requests");
    const wire_answer answer = exchange(service.port(), webhook_request(body, id));
    INFO("hostile input: " << name);
    CHECK(statuses(answer.text) == std::vector<int>{200});
    CHECK(answer.text.find("dead_letter") != std::string::npos);
    CHECK(db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = '" + id +
                    "'") == "dead_letter");
    CHECK(db.scalar("select octet_length(body) from shopify.dead_letters where webhook_id = '" +
                    id + "'") == std::to_string(body.size()));
    const std::string reason =
        db.scalar("select reason from shopify.dead_letters where webhook_id = '" + id + "'");
    INFO("reason: " << reason);
    CHECK(reason.find(reason_part) != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.products") + "/" +
              db.scalar("select count(*) from shopify.product_refresh_requests") ==
          products_before);
  }
};

std::string with_header_line(const std::string& request, const std::string& line) {
  std::string out = request;
  out.insert(out.find("\r\n") + 2, line);
  return out;
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE_FIXTURE(fixture, "hostile framing - truncated and oversized and chunked bodies") {
    const std::string body = product_body(1);
    const std::string sig = crypto::shopify_signature(secret, body);
    const std::string head = "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n"
                             "X-Shopify-Topic: products/update\r\n"
                             "X-Shopify-Shop-Domain: hostile.myshopify.com\r\n"
                             "X-Shopify-Webhook-Id: framing\r\n"
                             "X-Shopify-Hmac-Sha256: " +
                             sig + "\r\n";

    // Refused from the header alone: the answer comes well before the read
    // deadline, so the server did not wait for a body.
    auto far = expect("Content-Length far above the limit - no body sent",
                      head + "Content-Length: 99999999999\r\n\r\n", {413});
    CHECK(far.closed);
    CHECK(far.elapsed < read_timeout);
    expect("Content-Length one above the limit - no body sent",
           head + "Content-Length: " + std::to_string(max_body + 1) + "\r\n\r\n", {413});
    expect("Content-Length above 2^64", head + "Content-Length: 99999999999999999999999\r\n\r\n",
           {400});
    expect("negative Content-Length", head + "Content-Length: -1\r\n\r\n" + body, {400});
    expect("Content-Length with a plus sign", head + "Content-Length: +5\r\n\r\nhello", {400});
    expect("Content-Length not a number", head + "Content-Length: ten\r\n\r\n" + body, {400});
    expect("two different Content-Lengths",
           head + "Content-Length: " + std::to_string(body.size()) +
               "\r\nContent-Length: 3\r\n\r\n" + body,
           {400});
    // Equal repeats are allowed (RFC 9112 6.3) and frame one body: read
    // whole, it is then refused for its signature.
    std::string unsigned_head = head;
    unsigned_head.replace(unsigned_head.find(sig), sig.size(), "AAAA");
    expect("the same Content-Length twice",
           unsigned_head + "Content-Length: " + std::to_string(body.size()) +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
           {401});
    const std::string padded = "{\"id\":1,\"pad\":\"" + std::string(max_body, 'p') + "\"}";
    expect("a signed body over the limit", webhook_request(padded, "big"), {413});

    // Truncated: the client stops early. Nobody is left to answer when it
    // closes; if it holds the connection, the read deadline ends it.
    const std::string truncated = head + "Content-Length: " + std::to_string(body.size()) +
                                  "\r\n\r\n" + body.substr(0, body.size() / 2);
    expect("body truncated - client closes", truncated, {}, true);
    auto held = expect("body truncated - client holds the connection", truncated, {});
    CHECK(held.closed);
    CHECK(held.elapsed < read_timeout + milliseconds(2000));
    expect("header truncated - client closes",
           "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nX-Shopify-To", {}, true);

    // Chunked bodies: without an end, over the limit, malformed.
    const std::string chunked_head = head + "Transfer-Encoding: chunked\r\n\r\n";
    std::string one_chunk;
    {
      char size[16];
      std::snprintf(size, sizeof size, "%zx", body.size());
      one_chunk = std::string(size) + "\r\n" + body + "\r\n";
    }
    expect("chunked without the last chunk - client closes", chunked_head + one_chunk, {}, true);
    auto unended =
        expect("chunked without the last chunk - client holds", chunked_head + one_chunk, {});
    CHECK(unended.closed);
    expect("chunked - last chunk but no final CRLF - client closes",
           chunked_head + one_chunk + "0\r\n", {}, true);
    std::string growing = chunked_head;
    for (int i = 0; i < 20; ++i) {
      growing += "1000\r\n" + std::string(4096, 'x') + "\r\n";
    }
    expect("chunked growing past the limit", growing, {413});
    expect("one chunk declared above the limit", chunked_head + "100000\r\n" + body, {413});
    expect("chunk size not hex", chunked_head + "zz\r\n" + body + "\r\n0\r\n\r\n", {400});
    expect("chunk size overflowing 64 bits",
           chunked_head + "fffffffffffffffffffffff\r\n" + body + "\r\n0\r\n\r\n", {400});
    expect("chunk data longer than its size", chunked_head + "2\r\n" + body + "\r\n0\r\n\r\n",
           {400});

    // Transfer-Encoding tricks (request smuggling shapes). Beast reads a
    // request whose last coding is not chunked as having no body; the server
    // refuses it instead, or the body would be taken for the next request.
    expect("Content-Length and chunked together",
           head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + one_chunk +
               "0\r\n\r\n",
           {400});
    expect("Transfer-Encoding gzip only", head + "Transfer-Encoding: gzip\r\n\r\n" + body, {400});
    expect("chunked not last",
           head + "Transfer-Encoding: chunked, gzip\r\n\r\n" + one_chunk + "0\r\n\r\n", {400});
    expect("Transfer-Encoding xchunked",
           head + "Transfer-Encoding: xchunked\r\n\r\n" + one_chunk + "0\r\n\r\n", {400});
    expect("Transfer-Encoding identity",
           head + "Transfer-Encoding: identity\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body,
           {400});
    expect("Transfer-Encoding chunked twice",
           head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + one_chunk +
               "0\r\n\r\n",
           {400});
    expect("gzip then chunked (a coding we do not decode)",
           head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + one_chunk + "0\r\n\r\n", {501});
    expect("Transfer-Encoding split over two headers",
           head + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + one_chunk +
               "0\r\n\r\n",
           {501});
    MESSAGE(tried << " hostile framing inputs");
  }

  TEST_CASE_FIXTURE(fixture,
                    "hostile JSON under a valid signature - dead letters and never a crash") {
    const std::string updated = "\"updated_at\":\"2026-01-02T03:04:05Z\"";
    const auto nested = [](std::size_t depth, char open, char close, const std::string& key) {
      std::string text;
      for (std::size_t i = 0; i < depth; ++i) {
        text += open;
        if (open == '{') {
          text += "\"" + key + "\":";
        }
      }
      text += "1";
      text += std::string(depth, close);
      return text;
    };
    // As deep as the body limit (64 KiB here) allows.
    expect_dead_letter("30,000 nested arrays",
                       "{\"id\":7," + updated + ",\"x\":" + nested(30000, '[', ']', "") + "}",
                       "nests deeper");
    expect_dead_letter("10,000 nested objects",
                       "{\"id\":7," + updated + ",\"x\":" + nested(10000, '{', '}', "a") + "}",
                       "nests deeper");
    expect_dead_letter("nesting 65 levels",
                       "{\"id\":7," + updated + ",\"x\":" + nested(64, '[', ']', "") + "}",
                       "nests deeper");
    expect_dead_letter("a delete nested deep",
                       "{\"id\":7,\"x\":" + nested(5000, '[', ']', "") + "}", "nests deeper");

    expect_dead_letter("id 2^63", "{\"id\":9223372036854775808," + updated + "}", "no product id");
    expect_dead_letter("id 2^64", "{\"id\":18446744073709551616," + updated + "}", "no product id");
    expect_dead_letter("id of 30 digits", "{\"id\":999999999999999999999999999999," + updated + "}",
                       "no product id");
    expect_dead_letter("id as a string", "{\"id\":\"123\"," + updated + "}", "no product id");
    expect_dead_letter("id as a fraction", "{\"id\":12.5," + updated + "}", "no product id");
    expect_dead_letter("id with an exponent", "{\"id\":1e3," + updated + "}", "no product id");
    expect_dead_letter("id negative", "{\"id\":-5," + updated + "}", "no product id");
    expect_dead_letter("id zero", "{\"id\":0," + updated + "}", "no product id");
    expect_dead_letter("id true", "{\"id\":true," + updated + "}", "no product id");
    expect_dead_letter("id null", "{\"id\":null," + updated + "}", "no product id");
    expect_dead_letter("a variant id above 2^63",
                       "{\"id\":8," + updated + ",\"variants\":[{\"id\":9223372036854775808}]}",
                       "variants[0]: id");
    expect_dead_letter("a number with a huge exponent", "{\"id\":8,\"x\":1e999999," + updated + "}",
                       "malformed JSON");

    expect_dead_letter("invalid UTF-8 (0xff)", "{\"id\":9," + updated + ",\"title\":\"\xff\"}",
                       "malformed JSON");
    expect_dead_letter("overlong UTF-8 for '/'",
                       "{\"id\":9," + updated + ",\"title\":\"\xc0\xaf\"}", "malformed JSON");
    expect_dead_letter("a UTF-8 encoded surrogate",
                       "{\"id\":9," + updated + ",\"title\":\"\xed\xa0\x80\"}", "malformed JSON");
    expect_dead_letter("a lone escaped surrogate",
                       "{\"id\":9," + updated + ",\"title\":\"\\ud800\"}", "malformed JSON");
    expect_dead_letter("a truncated UTF-8 sequence",
                       "{\"id\":9," + updated + ",\"title\":\"\xe2\x82\"}", "malformed JSON");
    expect_dead_letter("an escaped NUL", "{\"id\":9," + updated + ",\"title\":\"a\\u0000b\"}",
                       "NUL");
    expect_dead_letter("a raw NUL byte after the object",
                       "{\"id\":9," + updated + "}" + std::string(1, '\0') + "junk", "NUL byte");

    expect_dead_letter("duplicate id", "{\"id\":10,\"id\":11," + updated + "}", "duplicate key");
    expect_dead_letter("duplicate updated_at", "{\"id\":10," + updated + "," + updated + "}",
                       "duplicate key");
    expect_dead_letter("duplicate title",
                       "{\"id\":10," + updated + ",\"title\":\"a\",\"title\":\"b\"}",
                       "duplicate key");
    expect_dead_letter("duplicate variant price",
                       "{\"id\":10," + updated +
                           ",\"variants\":[{\"id\":1,\"price\":\"1.00\",\"price\":\"2.00\"}]}",
                       "duplicate key");

    expect_dead_letter("the body is null", "null", "not a JSON object");
    expect_dead_letter("the body is an array", "[]", "not a JSON object");
    expect_dead_letter("the body is a string", "\"product\"", "not a JSON object");
    expect_dead_letter("the body is empty", "", "malformed JSON");
    expect_dead_letter("a null variant", "{\"id\":12," + updated + ",\"variants\":[null]}",
                       "not an object");
    expect_dead_letter("variants an object", "{\"id\":12," + updated + ",\"variants\":{}}",
                       "not an array");
    expect_dead_letter("title an object", "{\"id\":12," + updated + ",\"title\":{}}",
                       "not a string");
    expect_dead_letter("updated_at null with fields", "{\"id\":12,\"updated_at\":{}}",
                       "updated_at");
    expect_dead_letter("truncated JSON", "{\"id\":12,", "malformed JSON");
    expect_dead_letter("trailing garbage", "{\"id\":12," + updated + "} {}", "malformed JSON");
    expect_dead_letter("a price of 100 digits",
                       "{\"id\":12," + updated + ",\"variants\":[{\"id\":1,\"price\":\"" +
                           std::string(100, '9') + "\"}]}",
                       "price");

    // The signature is over the bytes received: the same JSON re-serialised
    // (Shopify's "\/" unescaped, or spacing changed) does not verify.
    const std::string original = product_body(13);
    std::string unescaped = original;
    for (std::size_t at; (at = unescaped.find("\\/")) != std::string::npos;) {
      unescaped.erase(at, 1);
    }
    REQUIRE(unescaped != original);
    const std::string original_sig =
        "X-Shopify-Hmac-Sha256: " + crypto::shopify_signature(secret, original) + "\r\n";
    expect("re-serialised: \\/ unescaped", webhook_request(unescaped, "reser-1", original_sig),
           {401});
    std::string spaced = original;
    spaced.insert(1, " ");
    expect("re-serialised: a space added", webhook_request(spaced, "reser-2", original_sig), {401});
    expect("deep nesting without a signature",
           webhook_request(nested(30000, '[', ']', ""), "deep-unsigned", ""), {401});
    MESSAGE(tried << " hostile JSON inputs");
  }

  TEST_CASE_FIXTURE(fixture, "every malformed X-Shopify-Hmac-Sha256 - 401 and nothing written") {
    const std::string body = product_body(20);
    const std::string good = crypto::shopify_signature(secret, body);
    REQUIRE(good.size() == 44);
    const auto with = [&](const std::string& lines) {
      return webhook_request(body, "sig-" + std::to_string(tried), lines);
    };
    const auto header = [](const std::string& value) {
      return "X-Shopify-Hmac-Sha256: " + value + "\r\n";
    };
    std::string flipped = good;
    flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
    std::string urlsafe = good.substr(0, 40) + "-_-=";
    std::string non_canonical = good;
    non_canonical[42] = non_canonical[42] == 'B' ? 'C' : 'B'; // nonzero bits in the padding
    std::string hex;
    for (unsigned char c : crypto::shopify_signature(secret, body).substr(0, 32)) {
      char two[3];
      std::snprintf(two, sizeof two, "%02x", c);
      hex += two;
    }

    expect("missing", with(""), {401});
    expect("empty", with(header("")), {401});
    expect("blank", with(header("   ")), {401});
    expect("wrong alphabet (base64url)", with(header(urlsafe)), {401});
    expect("wrong alphabet (punctuation)", with(header(std::string(43, '!') + "=")), {401});
    expect("43 characters", with(header(good.substr(0, 43))), {401});
    expect("45 characters", with(header(good + "A")), {401});
    expect("two signatures in one value", with(header(good + good)), {401});
    expect("comma-separated list", with(header(good + ", " + good)), {401});
    expect("hex digest", with(header(hex)), {401});
    expect("one character flipped", with(header(flipped)), {401});
    expect("non-canonical padding bits", with(header(non_canonical)), {401});
    expect("padding in the middle", with(header(good.substr(0, 20) + "=" + good.substr(21))),
           {401});
    expect("signed with another secret",
           with(header(crypto::shopify_signature("another-secret", body))), {401});
    expect("signature of an empty body", with(header(crypto::shopify_signature(secret, ""))),
           {401});
    expect("repeated - both valid", with(header(good) + header(good)), {401});
    expect("repeated - one valid", with(header(flipped) + header(good)), {401});
    expect("X-Shopify- and Shopify- spellings both present",
           with(header(good) + "Shopify-Hmac-Sha256: " + good + "\r\n"), {401});
    expect("10 KB long", with(header(std::string(10240, 'A'))), {401});
    expect("10 KB of valid base64 starting with the signature",
           with(header(good + std::string(10240 - 44, 'A'))), {401});
    expect("a space inside", with(header(good.substr(0, 20) + " " + good.substr(20))), {401});
    expect("mixed-case name and a wrong value", with("x-SHOPIFY-hmac-SHA256: " + flipped + "\r\n"),
           {401});
    // Control characters in a header value are refused by the HTTP parser.
    expect("a NUL inside",
           with(header(good.substr(0, 20) + std::string(1, '\0') + good.substr(21))), {400});
    MESSAGE(tried << " malformed signature headers");
  }

  TEST_CASE_FIXTURE(fixture, "hostile headers and methods and pipelining") {
    const std::string body = product_body(30);
    const std::string sig_line =
        "X-Shopify-Hmac-Sha256: " + crypto::shopify_signature(secret, body) + "\r\n";
    const std::string unsigned_post = webhook_request(body, "hdr-unsigned", "");

    // Sizes: the header limit (16 KiB) answers 431, from the header alone.
    expect("one 20 KB header",
           with_header_line(unsigned_post, "X-Pad: " + std::string(20000, 'p') + "\r\n"), {431});
    std::string many;
    for (int i = 0; i < 2000; ++i) {
      many += "X-Pad-" + std::to_string(i) + ": v\r\n";
    }
    expect("2000 headers", with_header_line(unsigned_post, many), {431});
    std::string repeated;
    for (int i = 0; i < 2000; ++i) {
      repeated += "X-Shopify-Topic: products/update\r\n";
    }
    expect("X-Shopify-Topic 2000 times", with_header_line(unsigned_post, repeated), {431});
    expect("a 20 KB target",
           "POST /webhooks/shopify?" + std::string(20000, 'q') +
               " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
           {431});

    // Signed, but the headers that name the delivery are repeated or unfit.
    const auto signed_with = [&](const std::string& extra_lines, const std::string& webhook_id) {
      return webhook_request(body, webhook_id, sig_line, extra_lines);
    };
    expect("X-Shopify-Topic repeated", signed_with("X-Shopify-Topic: products/delete\r\n", "h-1"),
           {400});
    expect("X-Shopify-Shop-Domain repeated",
           signed_with("X-Shopify-Shop-Domain: other.myshopify.com\r\n", "h-2"), {400});
    expect("X-Shopify-Webhook-Id repeated", signed_with("X-Shopify-Webhook-Id: h-3b\r\n", "h-3"),
           {400});
    expect("Shopify-Webhook-Id as well as X-Shopify-Webhook-Id",
           signed_with("Shopify-Webhook-Id: h-4b\r\n", "h-4"), {400});
    expect("Webhook-Id of 300 characters", signed_with("", std::string(300, 'w')), {400});
    std::string bad_shop = webhook_request(body, "h-6", sig_line);
    bad_shop.replace(bad_shop.find("hostile.myshopify.com"), 21, "evil.com/../x\"y");
    expect("shop domain with a path and a quote", bad_shop, {400});
    std::string latin1_id = webhook_request(body, "h-\xe9", sig_line);
    expect("Webhook-Id with a non-ASCII byte", latin1_id, {400});

    // Malformed header syntax.
    // Beast joins a folded line with a space (RFC 9112 5.2 allows that or a
    // 400); the request is then refused for its missing signature.
    expect("obs-fold continuation line",
           with_header_line(unsigned_post, "X-Folded: a\r\n continued\r\n"), {401});
    expect("space before the colon", with_header_line(unsigned_post, "X-Shopify-Topic : x\r\n"),
           {400});
    expect("a line without a colon", with_header_line(unsigned_post, "no colon here\r\n"), {400});
    expect("a NUL in a header name",
           with_header_line(unsigned_post, std::string("X-N\0l: v\r\n", 10)), {400});
    expect("bare LF line ends", "POST /webhooks/shopify HTTP/1.1\nHost: x\nContent-Length: 0\n\n",
           {400});
    expect("garbage request line", "GARBAGE\r\n\r\n", {400});
    expect("HTTP/2 preface", std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), {400});
    expect("HTTP/9.9", "POST /webhooks/shopify HTTP/9.9\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
           {400});
    expect("HTTP/1.2", "POST /webhooks/shopify HTTP/1.2\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
           {400});
    expect("HTTP/0.9", "POST /webhooks/shopify HTTP/0.9\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
           {400});

    // Methods: only POST reaches the webhook; the answer comes from the header.
    for (const std::string method :
         {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "BREW"}) {
      auto answer = expect(
          method + " /webhooks/shopify",
          method + " /webhooks/shopify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {405});
      CHECK(answer.text.find("Allow: POST") != std::string::npos);
      if (method == "HEAD") { // the header only: no body after it
        CHECK(answer.text.size() == answer.text.find("\r\n\r\n") + 4);
      }
    }
    expect("GET with a body",
           "GET /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body,
           {405});
    expect("absolute-form target elsewhere",
           "POST http://evil.example/other HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
           {404});
    expect("dot segments",
           "POST /webhooks/../webhooks/shopify HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 0\r\nConnection: close\r\n\r\n",
           {404});

    // Expect: 100-continue is honoured only for a body we will read.
    const std::string expect_line = "Expect: 100-continue\r\n";
    auto too_big = expect("Expect: 100-continue over the limit",
                          "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n" + expect_line +
                              "Content-Length: 99999999\r\n\r\n",
                          {413});
    CHECK(too_big.elapsed < read_timeout);
    expect("Expect: 100-continue with a bad signature",
           webhook_request(body, "h-expect", "X-Shopify-Hmac-Sha256: AAAA\r\n", expect_line),
           {100, 401});
    expect("Expect: 100-continue on GET",
           "GET /webhooks/shopify HTTP/1.1\r\nHost: x\r\n" + expect_line +
               "Connection: close\r\n\r\n",
           {405});

    // Pipelined requests: each answered in order on one connection; after an
    // answer that leaves a body unread the connection is closed.
    const std::string keep =
        webhook_request(body, "pipe-a", "X-Shopify-Hmac-Sha256: AAAA\r\n", "", false);
    expect("three pipelined: 401 401 405",
           keep + keep + "PUT /webhooks/shopify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           {401, 401, 405});
    std::string hundred;
    for (int i = 0; i < 100; ++i) {
      hundred += keep;
    }
    expect("100 pipelined in one write", hundred, std::vector<int>(100, 401), true);
    expect("pipelined after a 413 with a body",
           "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n" +
               std::string(4096, 'x') + keep,
           {413}, true);
    expect("pipelined smuggling: a request hidden in a chunked body",
           "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Content-Length: 5\r\n\r\n0\r\n\r\n" +
               keep,
           {400});

    // SQL in a header value is a value like any other: every statement is
    // parameterised, so it is stored verbatim (this one is signed and applied).
    ++tried;
    const std::string injected = "x');drop-table-shopify.products;--";
    const auto stored = exchange(service.port(), signed_with("", injected));
    CHECK(statuses(stored.text) == std::vector<int>{200});
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries where webhook_id = $$" +
                    injected + "$$") == "1");
    CHECK(db.scalar("select count(*) from shopify.products") == "1");
    MESSAGE(tried << " hostile header and method inputs");
  }

  TEST_CASE_FIXTURE(fixture,
                    "a replayed capture with a forged later Triggered-At changes nothing") {
    // The state stored: Shopify's update at 03:04:05, observed at 03:04:06.
    const std::string capture = product_body(40, "Captured");
    const std::string first = webhook_request(capture, "replay-original", std::nullopt,
                                              "X-Shopify-Triggered-At: 2026-01-02T03:04:06Z\r\n");
    REQUIRE(statuses(exchange(service.port(), first).text) == std::vector<int>{200});
    const std::string newer = test::product_json(
        {40, "Newer", "2026-01-03T00:00:00Z", "", "active", {{400, "12.00", "SKU", 1, 1}}});
    REQUIRE(statuses(exchange(service.port(),
                              webhook_request(newer, "replay-newer", std::nullopt,
                                              "X-Shopify-Triggered-At: 2026-01-03T00:00:01Z\r\n"))
                         .text) == std::vector<int>{200});
    const std::string stored_sql =
        "select title || '|' || updated_at || '|' || version_observed_at || '|' || "
        "(select string_agg(price::text, ',') from shopify.product_variants) from shopify.products";
    const std::string stored = db.scalar(stored_sql);
    const std::string forged = "X-Shopify-Triggered-At: 2099-12-31T23:59:59Z\r\n";

    // The old capture, replayed with a forged future time: under its own id a
    // duplicate, under a new id stale (its signed updated_at is older).
    auto same_id =
        exchange(service.port(), webhook_request(capture, "replay-original", std::nullopt, forged));
    CHECK(test::field(sole_body(same_id.text), "outcome") == "duplicate");
    auto new_id =
        exchange(service.port(), webhook_request(capture, "replay-forged", std::nullopt, forged));
    CHECK(test::field(sole_body(new_id.text), "outcome") == "stale");
    CHECK(db.scalar(stored_sql) == stored);

    // The newest capture replayed under a new id with a forged future time:
    // the same state, so title, prices and Shopify's time stay; the forged
    // time is clamped to the arrival and never stored.
    auto latest =
        exchange(service.port(), webhook_request(newer, "replay-latest", std::nullopt, forged));
    CHECK(statuses(latest.text) == std::vector<int>{200});
    CHECK(db.scalar("select title || '|' || updated_at from shopify.products") ==
          "Newer|2026-01-03 00:00:00+00");
    CHECK(db.scalar("select version_observed_at <= now() from shopify.products") == "t");
    // A later genuine update still wins over everything replayed.
    const std::string genuine = test::product_json(
        {40, "Genuine", "2026-01-04T00:00:00Z", "", "active", {{400, "13.00", "SKU", 1, 1}}});
    auto real = exchange(service.port(),
                         webhook_request(genuine, "replay-genuine", std::nullopt,
                                         "X-Shopify-Triggered-At: 2026-01-04T00:00:01Z\r\n"));
    CHECK(test::field(sole_body(real.text), "outcome") == "applied");
    CHECK(db.scalar("select title from shopify.products") == "Genuine");
  }

} // TEST_SUITE
