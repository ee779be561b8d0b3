// X-Shopify-Hmac-Sha256 against the body: the header values and the body
// are the fuzzer's. Besides not crashing, the verdict must agree with a
// plain oracle: valid exactly when there is one value and it is, byte for
// byte, the base64 HMAC of the body under one of the secrets.

#include "crypto/base64.hpp"
#include "crypto/hmac.hpp"
#include "crypto/signature.hpp"
#include "fuzz/fuzz_input.hpp"

#include <cstdlib>
#include <string>
#include <vector>

using namespace shopmirror;

namespace {

const std::vector<std::string> secrets = {"fuzz-current-secret", "fuzz-previous-secret"};
const crypto::webhook_verifier verifier(secrets);

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  // The first byte: how many header values (0..3), and whether the first
  // one is replaced by the real signature of the body (so that the valid
  // path is reached, and mutations around it are tried).
  const std::uint8_t control = in.byte();
  const std::size_t count = control & 3U;
  std::vector<std::string> values;
  for (std::size_t i = 0; i < count; ++i) {
    values.emplace_back(in.until('\n'));
  }
  const std::string body(in.rest());
  if ((control & 4U) != 0 && !values.empty()) {
    values.front() = crypto::shopify_signature(secrets[(control >> 3U) & 1U], body);
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  const crypto::signature_result result = verifier.verify(views, body);

  bool expected_valid = false;
  if (values.size() == 1) {
    for (const auto& secret : secrets) {
      expected_valid = expected_valid || values.front() == crypto::shopify_signature(secret, body);
    }
  }
  if ((result.status == crypto::signature_status::valid) != expected_valid) {
    std::abort();
  }
  if (values.empty() != (result.status == crypto::signature_status::missing)) {
    std::abort();
  }

  // base64: whatever decodes is canonical, so it encodes back to itself.
  for (const auto& value : values) {
    if (const auto decoded = crypto::base64_decode(value)) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(decoded->data());
      if (crypto::base64_encode({bytes, decoded->size()}) != value) {
        std::abort();
      }
    }
  }
  return 0;
}
