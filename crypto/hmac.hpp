#pragma once

#include <array>
#include <string>
#include <string_view>

namespace shopmirror::crypto {

using sha256_digest = std::array<unsigned char, 32>;

/// HMAC-SHA256 of `message` keyed with the bytes of `key`.
sha256_digest hmac_sha256(std::string_view key, std::string_view message);

/// The value of an `X-Shopify-Hmac-Sha256` header for `body`: base64 of the
/// HMAC-SHA256 of the raw bytes. What `shopmirror send` and tests sign with.
std::string shopify_signature(std::string_view secret, std::string_view body);

} // namespace shopmirror::crypto
