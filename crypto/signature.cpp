#include "crypto/signature.hpp"

#include "crypto/base64.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hmac.hpp"

#include <stdexcept>
#include <utility>

namespace shopmirror::crypto {

std::string_view to_string(signature_status status) noexcept {
  switch (status) {
  case signature_status::valid:
    return "valid";
  case signature_status::missing:
    return "missing";
  case signature_status::malformed:
    return "malformed";
  case signature_status::mismatch:
    return "mismatch";
  }
  return "unknown";
}

webhook_verifier::webhook_verifier(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
  if (secrets_.empty()) {
    throw std::invalid_argument("webhook_verifier needs at least one secret");
  }
  for (const auto& secret : secrets_) {
    if (secret.empty()) {
      throw std::invalid_argument("webhook_verifier: a secret is empty");
    }
  }
}

signature_result webhook_verifier::verify(std::span<const std::string_view> header_values,
                                          std::string_view body) const {
  if (header_values.empty()) {
    return {signature_status::missing, 0};
  }
  if (header_values.size() != 1) {
    return {signature_status::malformed, 0};
  }
  // 44 characters encode 32 bytes; checking the length first keeps a 10 KB
  // header from costing a 10 KB decode.
  const std::string_view header = header_values.front();
  if (header.size() != 44) {
    return {signature_status::malformed, 0};
  }
  const auto presented = base64_decode(header);
  if (!presented || presented->size() != sha256_digest{}.size()) {
    return {signature_status::malformed, 0};
  }
  for (std::size_t i = 0; i < secrets_.size(); ++i) {
    const sha256_digest expected = hmac_sha256(secrets_[i], body);
    const std::string_view expected_view(reinterpret_cast<const char*>(expected.data()),
                                         expected.size());
    if (constant_time_equal(*presented, expected_view)) {
      return {signature_status::valid, i};
    }
  }
  return {signature_status::mismatch, 0};
}

} // namespace shopmirror::crypto
