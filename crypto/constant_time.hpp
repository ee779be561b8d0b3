#pragma once

#include <string_view>

namespace shopmirror::crypto {

/// Compares two byte strings in time that depends only on their lengths.
/// Used where both are digests of a fixed size.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// Compares a presented secret (a bearer token, say) with the expected one
/// without leaking, through timing, how long the expected one is or how much
/// of it matched: both are hashed first and the digests compared.
bool secret_equal(std::string_view presented, std::string_view expected) noexcept;

} // namespace shopmirror::crypto
