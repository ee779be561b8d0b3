#pragma once

// UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing
// past U+10FFFF): what a payload must be for PostgreSQL to store it, and
// what a log line must be to stay valid JSON. One definition for both.

#include <cstddef>
#include <string_view>

namespace shopmirror::text {

/// The length of the well-formed sequence that starts at text[at] (1 for
/// ASCII), or 0 if none does. `at` must be inside `text`.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) noexcept;

/// Where `text` stops being well-formed UTF-8, or npos. ASCII, nearly all
/// of a product document, is checked eight bytes at a time.
std::size_t invalid_utf8_at(std::string_view text) noexcept;

} // namespace shopmirror::text
