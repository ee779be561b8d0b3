#include "crypto/hmac.hpp"

#include "crypto/base64.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace shopmirror::crypto {
namespace {

constexpr std::size_t block_size = 64; // SHA-256's

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("HMAC-SHA256 failed in OpenSSL: ") + what);
}

struct md_ctx_free {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

md_ctx new_ctx() {
  md_ctx ctx(EVP_MD_CTX_new());
  if (!ctx) {
    fail("EVP_MD_CTX_new");
  }
  return ctx;
}

// SHA-256 fetched once for the process (a fetch takes the provider store's lock).
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) {
    fail("EVP_MD_fetch(SHA256)");
  }
  return md;
}

void digest_into(EVP_MD_CTX* ctx, const EVP_MD_CTX* from, const void* data, std::size_t size,
                 unsigned char* out) {
  unsigned int length = 0;
  if (EVP_MD_CTX_copy_ex(ctx, from) != 1 || EVP_DigestUpdate(ctx, data, size) != 1 ||
      EVP_DigestFinal_ex(ctx, out, &length) != 1 || length != sha256_digest{}.size()) {
    fail("digest");
  }
}

} // namespace

sha256_digest sha256(std::string_view message) {
  sha256_digest out{};
  unsigned int length = 0;
  if (EVP_Digest(message.data(), message.size(), out.data(), &length, sha256_md(), nullptr) != 1 ||
      length != out.size()) {
    fail("EVP_Digest");
  }
  return out;
}

// RFC 2104: H((K ^ opad) || H((K ^ ipad) || message)), K zero-padded to a
// block, or hashed first if longer than one.
struct hmac_sha256_key::states {
  md_ctx inner = new_ctx();
  md_ctx outer = new_ctx();
};

hmac_sha256_key::hmac_sha256_key(std::string_view key) : states_(std::make_unique<states>()) {
  unsigned char block[block_size] = {};
  if (key.size() > block_size) {
    unsigned int length = 0;
    if (EVP_Digest(key.data(), key.size(), block, &length, sha256_md(), nullptr) != 1) {
      fail("hashing a long key");
    }
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char ipad[block_size];
  unsigned char opad[block_size];
  for (std::size_t i = 0; i < block_size; ++i) {
    ipad[i] = static_cast<unsigned char>(block[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(block[i] ^ 0x5c);
  }
  if (EVP_DigestInit_ex(states_->inner.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(states_->inner.get(), ipad, block_size) != 1 ||
      EVP_DigestInit_ex(states_->outer.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(states_->outer.get(), opad, block_size) != 1) {
    fail("preparing a key");
  }
}

hmac_sha256_key::~hmac_sha256_key() = default;
hmac_sha256_key::hmac_sha256_key(hmac_sha256_key&&) noexcept = default;
hmac_sha256_key& hmac_sha256_key::operator=(hmac_sha256_key&&) noexcept = default;

sha256_digest hmac_sha256_key::sign(std::string_view message) const {
  // One scratch context per thread, reused: the kept states are only read.
  thread_local const md_ctx scratch = new_ctx();
  sha256_digest inner{};
  digest_into(scratch.get(), states_->inner.get(), message.data(), message.size(), inner.data());
  sha256_digest digest{};
  digest_into(scratch.get(), states_->outer.get(), inner.data(), inner.size(), digest.data());
  return digest;
}

sha256_digest hmac_sha256(std::string_view key, std::string_view message) {
  return hmac_sha256_key(key).sign(message);
}

std::string shopify_signature(std::string_view secret, std::string_view body) {
  return base64_encode(hmac_sha256(secret, body));
}

} // namespace shopmirror::crypto
