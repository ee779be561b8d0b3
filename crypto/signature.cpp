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

namespace {

std::vector<hmac_sha256_key> keys_of(const std::vector<std::string>& secrets) {
  std::vector<hmac_sha256_key> keys;
  keys.reserve(secrets.size());
  for (const auto& secret : secrets) {
    if (secret.empty()) {
      throw std::invalid_argument("webhook_verifier: a secret is empty");
    }
    keys.emplace_back(secret);
  }
  return keys;
}

} // namespace

webhook_verifier::webhook_verifier(
    const std::vector<std::string>& secrets,
    const std::map<std::string, std::vector<std::string>>& shop_secrets)
    : app_keys_(keys_of(secrets)) {
  for (const auto& [shop, list] : shop_secrets) {
    shop_keys_.emplace(shop, keys_of(list));
  }
  if (secret_count() == 0) {
    throw std::invalid_argument("webhook_verifier needs at least one secret");
  }
}

std::size_t webhook_verifier::secret_count() const noexcept {
  std::size_t count = app_keys_.size();
  for (const auto& [shop, list] : shop_keys_) {
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
  const auto matches = [&](const std::vector<hmac_sha256_key>& list) {
    for (const auto& key : list) {
      const sha256_digest expected = key.sign(body);
      const std::string_view expected_view(reinterpret_cast<const char*>(expected.data()),
                                           expected.size());
      if (constant_time_equal(*presented, expected_view)) {
        return true;
      }
      ++index;
    }
    return false;
  };
  if (matches(app_keys_)) {
    return {signature_status::valid, index};
  }
  if (const auto own = shop_keys_.find(shop); own != shop_keys_.end() && matches(own->second)) {
    return {signature_status::valid, index};
  }
  return {signature_status::mismatch, 0};
}

} // namespace shopmirror::crypto
