#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shopmirror::crypto {

/// Standard base64 (RFC 4648 section 4) with padding.
std::string base64_encode(std::span<const unsigned char> bytes);

/// Strict decoding of standard base64, as Shopify sends it: the `+/`
/// alphabet, `=` padding to a multiple of four, no whitespace, and no
/// non-zero bits after the last symbol. Anything else is std::nullopt,
/// so one signature has exactly one accepted spelling.
std::optional<std::string> base64_decode(std::string_view text);

/// base64url without padding (RFC 4648 section 5), as JSON Web Tokens use.
std::string base64url_encode(std::string_view bytes);

/// Decodes unpadded base64url; std::nullopt for anything else.
std::optional<std::string> base64url_decode(std::string_view text);

} // namespace shopmirror::crypto
