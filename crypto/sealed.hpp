#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::crypto {

/// A 256-bit key for sealing secrets at rest (SHOPMIRROR_CREDENTIALS_KEY).
struct sealing_key {
  std::array<unsigned char, 32> bytes{};
};

/// The key from its text: base64 (standard or URL alphabet, padded or not)
/// of exactly 32 bytes; std::nullopt if it is not that.
std::optional<sealing_key> parse_sealing_key(std::string_view text);

/// Seals `plain` with AES-256-GCM under `key`, bound to `context` (the
/// additional authenticated data: a sealed value moved to another row, or
/// read as another kind of secret, does not open). The result is a fresh
/// random 12-byte nonce, the ciphertext, and the 16-byte tag.
std::string seal(const sealing_key& key, std::string_view plain, std::string_view context);

/// The plaintext of a sealed value, or std::nullopt if the key, the
/// context or the bytes are not the ones it was sealed with.
std::optional<std::string> open(const sealing_key& key, std::string_view sealed,
                                std::string_view context);

} // namespace shopmirror::crypto
