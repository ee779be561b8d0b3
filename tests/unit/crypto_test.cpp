#include "crypto/base64.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hmac.hpp"
#include "crypto/jws.hpp"
#include "crypto/sealed.hpp"
#include "crypto/signature.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <thread>

#include <sstream>
#include <vector>

using namespace shopmirror;
using crypto::signature_status;

namespace {

struct vector_row {
  std::string secret;
  std::string body;
  std::string expected;
};

// tests/fixtures/shopify/hmac-vectors.tsv: secret, body bytes, expected header.
std::vector<vector_row> hmac_vectors() {
  std::istringstream lines(test::fixture("shopify/hmac-vectors.tsv"));
  std::string line;
  std::getline(lines, line); // header
  std::vector<vector_row> rows;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
      cells.push_back(line.substr(start, tab - start));
    }
    cells.push_back(line.substr(start));
    if (cells.size() >= 3) {
      rows.push_back({cells[0], cells[1], cells[2]});
    }
  }
  return rows;
}

std::string hex(const crypto::sha256_digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

crypto::signature_result check(const crypto::webhook_verifier& v,
                               std::vector<std::string_view> headers, std::string_view body) {
  return v.verify(headers, body);
}

} // namespace

TEST_SUITE("crypto") {

  TEST_CASE("every HMAC vector from Shopify's libraries matches") {
    const auto rows = hmac_vectors();
    REQUIRE(rows.size() == 2);
    for (const auto& row : rows) {
      CAPTURE(row.secret);
      CHECK(crypto::shopify_signature(row.secret, row.body) == row.expected);
      const crypto::webhook_verifier verifier({row.secret});
      CHECK(check(verifier, {row.expected}, row.body).status == signature_status::valid);
    }
    CHECK(hex(crypto::hmac_sha256("test_secret_key", "{\"foo\": \"bar\"}")) ==
          "076ded5cdebcd60674a8858d46b82dcc113d5d20e8e72694bbac1f9a1bb76bb8");
  }

  TEST_CASE("HMAC-SHA256 matches RFC 4231 - keys shorter and longer than a block") {
    // Test cases 1, 2, 6 and 7: a 20-byte key, a short text key, and 131-byte
    // keys, which are hashed first.
    CHECK(hex(crypto::hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(hex(crypto::hmac_sha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(hex(crypto::hmac_sha256(std::string(131, '\xaa'),
                                  "Test Using Larger Than Block-Size Key - Hash Key First")) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const crypto::hmac_sha256_key long_key(std::string(131, '\xaa'));
    CHECK(hex(long_key.sign("This is a test using a larger than block-size key and a larger "
                            "than block-size data. The key needs to be hashed before being used "
                            "by the HMAC algorithm.")) ==
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  }

  TEST_CASE("one prepared key signs the same from many threads") {
    const crypto::hmac_sha256_key key("shared-secret");
    const std::string body(3500, 'b');
    const auto expected = crypto::hmac_sha256("shared-secret", body);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          wrong += key.sign(body) == expected ? 0 : 1;
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(wrong == 0);
  }

  TEST_CASE("base64 round-trips every length") {
    std::vector<unsigned char> bytes;
    for (int n = 0; n < 70; ++n) {
      const std::string encoded = crypto::base64_encode(bytes);
      CHECK(encoded.size() % 4 == 0);
      const auto decoded = crypto::base64_decode(encoded);
      REQUIRE(decoded);
      CHECK(std::string(bytes.begin(), bytes.end()) == *decoded);
      bytes.push_back(static_cast<unsigned char>(n * 37 + 11));
    }
  }

  TEST_CASE("base64 decoding is strict") {
    CHECK(crypto::base64_decode("Zm9v") == std::optional<std::string>("foo"));
    CHECK(crypto::base64_decode("Zm8=") == std::optional<std::string>("fo"));
    CHECK(crypto::base64_decode("Zg==") == std::optional<std::string>("f"));
    CHECK_FALSE(crypto::base64_decode("Zm8"));    // missing padding
    CHECK_FALSE(crypto::base64_decode("Zg"));     // missing padding
    CHECK_FALSE(crypto::base64_decode("Zg="));    // wrong length
    CHECK_FALSE(crypto::base64_decode("-_-_"));   // URL-safe alphabet
    CHECK_FALSE(crypto::base64_decode("Zm 9v"));  // whitespace inside
    CHECK_FALSE(crypto::base64_decode(" Zm9v"));  // whitespace around
    CHECK_FALSE(crypto::base64_decode("Zm9v\n")); // trailing newline
    CHECK_FALSE(crypto::base64_decode("Z=9v"));   // padding in the middle
    CHECK_FALSE(crypto::base64_decode("Zh=="));   // non-zero bits after the data
    CHECK_FALSE(crypto::base64_decode("===="));
  }

  TEST_CASE("a signature is valid only on the exact bytes - with a known secret") {
    const std::string body = "{\"id\":1,\"url\":\"https:\\/\\/example.com\"}";
    const std::string reserialized = "{\"id\":1,\"url\":\"https://example.com\"}";
    const std::string good = crypto::shopify_signature("current", body);
    const crypto::webhook_verifier verifier({"current", "previous"});

    CHECK(check(verifier, {good}, body).status == signature_status::valid);
    CHECK(check(verifier, {good}, reserialized).status == signature_status::mismatch);
    CHECK(check(verifier, {crypto::shopify_signature("someone-else", body)}, body).status ==
          signature_status::mismatch);

    SUBCASE("rotation: the previous secret is still accepted") {
      const auto result = check(verifier, {crypto::shopify_signature("previous", body)}, body);
      CHECK(result.status == signature_status::valid);
      CHECK(result.secret_index == 1);
    }
    SUBCASE("missing, repeated or malformed headers") {
      CHECK(check(verifier, {}, body).status == signature_status::missing);
      CHECK(check(verifier, {good, good}, body).status == signature_status::malformed);
      CHECK(check(verifier, {""}, body).status == signature_status::malformed);
      CHECK(check(verifier, {good.substr(0, 43)}, body).status == signature_status::malformed);
      CHECK(check(verifier, {std::string(10240, 'A')}, body).status == signature_status::malformed);
      std::string url_safe = good;
      for (char& c : url_safe) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
      }
      if (url_safe != good) {
        CHECK(check(verifier, {url_safe}, body).status == signature_status::malformed);
      }
      // Well-formed 32 bytes that are not the HMAC: a mismatch, not malformed.
      CHECK(check(verifier, {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, body).status ==
            signature_status::mismatch);
      CHECK(check(verifier, {"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!="}, body).status ==
            signature_status::malformed);
    }
  }

  TEST_CASE("a shop's own key signs only that shop's deliveries") {
    const std::string body = "{\"id\":1}";
    const crypto::webhook_verifier verifier(
        {"app"}, {{"one.myshopify.com", {"one-key"}}, {"two.myshopify.com", {"two-key"}}});
    const std::string by_one = crypto::shopify_signature("one-key", body);
    const std::array<std::string_view, 1> header{by_one};
    CHECK(verifier.verify(header, body, "one.myshopify.com").status == signature_status::valid);
    CHECK(verifier.verify(header, body, "one.myshopify.com").secret_index == 1);
    // Claiming another shop, or none, the key is not tried.
    CHECK(verifier.verify(header, body, "two.myshopify.com").status == signature_status::mismatch);
    CHECK(verifier.verify(header, body).status == signature_status::mismatch);
    // The app's secrets sign for every shop.
    const std::string by_app = crypto::shopify_signature("app", body);
    const std::array<std::string_view, 1> app_header{by_app};
    CHECK(verifier.verify(app_header, body, "two.myshopify.com").status == signature_status::valid);
    CHECK(verifier.secret_count() == 3);
    CHECK_NOTHROW(crypto::webhook_verifier({}, {{"one.myshopify.com", {"k"}}}));
  }

  TEST_CASE("a verifier needs a non-empty secret") {
    CHECK_THROWS(crypto::webhook_verifier({}));
    CHECK_THROWS(crypto::webhook_verifier({"ok", ""}));
  }

  TEST_CASE("secret comparison") {
    CHECK(crypto::secret_equal("token-123", "token-123"));
    CHECK_FALSE(crypto::secret_equal("token-124", "token-123"));
    CHECK_FALSE(crypto::secret_equal("token-1234", "token-123"));
    CHECK_FALSE(crypto::secret_equal("", ""));
    CHECK(crypto::constant_time_equal("abc", "abc"));
    CHECK_FALSE(crypto::constant_time_equal("abc", "abd"));
    CHECK_FALSE(crypto::constant_time_equal("abc", "ab"));
  }

  TEST_CASE("sealed secrets open with their key and context only") {
    const auto key = crypto::parse_sealing_key("q1Jd8m6uQ5GYmBw1iVYbq2cL0y3f2d6m9N0kYzP3r8E=");
    REQUIRE(key);
    // The URL alphabet, unpadded, is the same key.
    CHECK(crypto::parse_sealing_key("q1Jd8m6uQ5GYmBw1iVYbq2cL0y3f2d6m9N0kYzP3r8E").has_value());
    CHECK_FALSE(crypto::parse_sealing_key("c2hvcnQ=").has_value()); // 5 bytes
    CHECK_FALSE(crypto::parse_sealing_key("not base64 at all!").has_value());

    const std::string sealed = crypto::seal(*key, "shpat_secret", "shop-a/access");
    CHECK(sealed.size() == 12 + 12 + 16);
    CHECK(sealed.find("shpat_secret") == std::string::npos);
    CHECK(crypto::open(*key, sealed, "shop-a/access") ==
          std::optional<std::string>("shpat_secret"));
    // Sealed twice, two ciphertexts (a fresh nonce each time).
    CHECK(crypto::seal(*key, "shpat_secret", "shop-a/access") != sealed);
    // Another row, another kind of secret, another key, a flipped bit: nothing.
    CHECK_FALSE(crypto::open(*key, sealed, "shop-b/access"));
    CHECK_FALSE(crypto::open(*key, sealed, "shop-a/refresh"));
    auto other = *key;
    other.bytes[0] ^= 1;
    CHECK_FALSE(crypto::open(other, sealed, "shop-a/access"));
    for (std::size_t i = 0; i < sealed.size(); ++i) {
      std::string tampered = sealed;
      tampered[i] = static_cast<char>(tampered[i] ^ 0x40);
      CHECK_FALSE(crypto::open(*key, tampered, "shop-a/access"));
    }
    CHECK_FALSE(crypto::open(*key, sealed.substr(0, 20), "shop-a/access"));
  }

  TEST_CASE("client assertions are signed and verified as JWS, RS256 and ES256") {
    for (const std::string algorithm : {"ES256", "RS256"}) {
      CAPTURE(algorithm);
      const auto key = crypto::signing_key::generate(algorithm);
      CHECK(key.algorithm() == algorithm);
      const auto again = crypto::signing_key::from_pem(key.private_pem());
      const std::string claims = R"({"iss":"client","aud":"https://x.myshopify.com"})";
      const std::string token = again.sign_jwt(claims, "key-1");
      const auto verified = crypto::verify_jwt(token, key.public_pem());
      REQUIRE(verified);
      CHECK(verified->claims == claims);
      CHECK(verified->header == R"({"alg":")" + algorithm + R"(","typ":"JWT","kid":"key-1"})");
      CHECK(key.public_jwk("key-1").find(algorithm == "ES256" ? R"("kty":"EC","crv":"P-256")"
                                                              : R"("kty":"RSA","n":")") == 1);

      // Another key, changed claims, a changed signature: refused.
      const auto stranger = crypto::signing_key::generate(algorithm);
      CHECK_FALSE(crypto::verify_jwt(token, stranger.public_pem()));
      const auto dot = token.find('.');
      const std::string forged = token.substr(0, dot + 1) +
                                 crypto::base64url_encode(R"({"iss":"someone else"})") +
                                 token.substr(token.rfind('.'));
      CHECK_FALSE(crypto::verify_jwt(forged, key.public_pem()));
      std::string flipped = token;
      flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
      CHECK_FALSE(crypto::verify_jwt(flipped, key.public_pem()));
      // The key decides the algorithm: "none", or the other one, never verifies.
      const std::string unsigned_token = crypto::base64url_encode(R"({"alg":"none"})") + "." +
                                         crypto::base64url_encode(claims) + ".";
      CHECK_FALSE(crypto::verify_jwt(unsigned_token, key.public_pem()));
    }
    CHECK_THROWS_AS(crypto::signing_key::from_pem("-----BEGIN PRIVATE KEY-----\nnope\n"),
                    std::invalid_argument);
  }
}
