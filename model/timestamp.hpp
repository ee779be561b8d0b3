#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::model {

/// An instant in UTC with microsecond resolution: what PostgreSQL's
/// timestamptz holds. Finer digits (Shopify's triggered-at has nanoseconds)
/// are truncated, so a value round-trips through the database unchanged.
struct timestamp {
  std::int64_t micros_since_epoch = 0;

  // clang-tidy 14 takes the comparison category's literal 0 for a null
  // pointer here (modernize-use-nullptr): a false positive.
  auto operator<=>(const timestamp&) const = default; // NOLINT(modernize-use-nullptr)

  static timestamp from_micros(std::int64_t micros) { return timestamp{micros}; }
};

/// Parses RFC 3339 (`2021-12-31T19:00:00-05:00`, `...:27.877041743Z`).
/// Years 1..9999 only; an offset or `Z` is required, since a time without a
/// zone is ambiguous.
std::optional<timestamp> parse_rfc3339(std::string_view text);

/// `2022-01-01T00:00:00.000000Z`: what the database is sent.
std::string format_rfc3339(timestamp value);

/// Now, from the system clock.
timestamp now();

} // namespace shopmirror::model
