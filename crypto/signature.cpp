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

webhook_verifier::webhook_verifier(std::vector<std::string> secrets,
                                   std::map<std::string, std::vector<std::string>> shop_secrets)
    : secrets_(std::move(secrets)), shop_secrets_(shop_secrets.begin(), shop_secrets.end()) {
  if (secret_count() == 0) {
    throw std::invalid_argument("webhook_verifier needs at least one secret");
  }
  const auto check = [](const std::vector<std::string>& list) {
    for (const auto& secret : list) {
      if (secret.empty()) {
        throw std::invalid_argument("webhook_verifier: a secret is empty");
      }
    }
  };
  check(secrets_);
  for (const auto& [shop, list] : shop_secrets_) {
    check(list);
  }
}

std::size_t webhook_verifier::secret_count() const noexcept {
  std::size_t count = secrets_.size();
  for (const auto& [shop, list] : shop_secrets_) {
    count += list.size();
  }
  return count;
}

signature_result webhook_verifier::verify(std::span<const std::string_view> header_values,
                                          std::string_view body, std::string_view shop) const {
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
  std::size_t index = 0;
  const auto matches = [&](const std::vector<std::string>& list) {
    for (const auto& secret : list) {
      const sha256_digest expected = hmac_sha256(secret, body);
      const std::string_view expected_view(reinterpret_cast<const char*>(expected.data()),
                                           expected.size());
      if (constant_time_equal(*presented, expected_view)) {
        return true;
      }
      ++index;
    }
    return false;
  };
  if (matches(secrets_)) {
    return {signature_status::valid, index};
  }
  if (const auto own = shop_secrets_.find(shop); own != shop_secrets_.end() && matches(own->second)) {
    return {signature_status::valid, index};
  }
  return {signature_status::mismatch, 0};
}

} // namespace shopmirror::crypto
