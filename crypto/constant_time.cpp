#include "crypto/constant_time.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>

namespace shopmirror::crypto {

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool secret_equal(std::string_view presented, std::string_view expected) noexcept {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> a{};
  std::array<unsigned char, SHA256_DIGEST_LENGTH> b{};
  SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), a.data());
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b.data());
  // An empty expected secret never matches: it means "not configured".
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0 && !expected.empty();
}

} // namespace shopmirror::crypto
