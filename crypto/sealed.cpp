#include "crypto/sealed.hpp"

#include "crypto/base64.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace shopmirror::crypto {
namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

int length_of(std::string_view text) {
  if (text.size() > 64U * 1024 * 1024) {
    throw std::length_error("a value to seal is over 64 MiB");
  }
  return static_cast<int>(text.size());
}

} // namespace

std::optional<sealing_key> parse_sealing_key(std::string_view text) {
  std::string standard(text);
  for (char& c : standard) {
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  while (standard.size() % 4 != 0) {
    standard += '=';
  }
  const auto decoded = base64_decode(standard);
  if (!decoded || decoded->size() != sealing_key{}.bytes.size()) {
    return std::nullopt;
  }
  sealing_key key;
  std::copy(decoded->begin(), decoded->end(), key.bytes.begin());
  return key;
}

std::string seal(const sealing_key& key, std::string_view plain, std::string_view context) {
  std::string out(nonce_size + plain.size() + tag_size, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(nonce, static_cast<int>(nonce_size)) != 1) {
    throw std::runtime_error("no random bytes for a nonce");
  }
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int written = 0;
  int final_written = 0;
  auto* cipher = reinterpret_cast<unsigned char*>(out.data()) + nonce_size;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &written, bytes_of(context), length_of(context)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher, &written, bytes_of(plain), length_of(plain)) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher + written, &final_written) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                          cipher + plain.size()) != 1) {
    throw std::runtime_error("AES-256-GCM sealing failed in OpenSSL");
  }
  return out;
}

std::optional<std::string> open(const sealing_key& key, std::string_view sealed,
                                std::string_view context) {
  if (sealed.size() < nonce_size + tag_size) {
    return std::nullopt;
  }
  const std::string_view cipher = sealed.substr(nonce_size, sealed.size() - nonce_size - tag_size);
  std::string tag(sealed.substr(sealed.size() - tag_size));
  std::string plain(cipher.size(), '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int written = 0;
  int final_written = 0;
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(),
                         bytes_of(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &written, bytes_of(context), length_of(context)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &written, bytes_of(cipher), length_of(cipher)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size),
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + written, &final_written) != 1) {
    return std::nullopt; // not ours, or tampered with
  }
  return plain;
}

} // namespace shopmirror::crypto
