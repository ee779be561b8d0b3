#include "crypto/hmac.hpp"

#include "crypto/base64.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace shopmirror::crypto {

sha256_digest hmac_sha256(std::string_view key, std::string_view message) {
  sha256_digest digest{};
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
           &length);
  if (result == nullptr || length != digest.size()) {
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  }
  return digest;
}

std::string shopify_signature(std::string_view secret, std::string_view body) {
  return base64_encode(hmac_sha256(secret, body));
}

} // namespace shopmirror::crypto
