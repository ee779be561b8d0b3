#pragma once

// Internal to db/: how every batch reaches PostgreSQL. Arrays go in the
// binary wire format (what array_send writes and array_recv reads), so the
// server takes each element as it is: no quoting or escaping on our side, no
// text parsing on its side. Measured (README, Performance): parsing array
// literals was about a tenth of the database's time per webhook.

#include "model/timestamp.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shopmirror::db {

/// Element types, by their PostgreSQL type oid. The server refuses an
/// array whose element type is not the one the statement declares.
enum class pg_element : std::uint32_t {
  bytea = 17,
  int8 = 20,
  int4 = 23,
  text = 25,
  timestamptz = 1184,
};

/// Builds a one-dimensional array in the binary format. Adding a value
/// that does not fit the element type is a bug: it throws std::logic_error.
class binary_array {
public:
  explicit binary_array(pg_element element);

  void add_null();
  /// text (valid UTF-8 without NUL: the server checks) or bytea (any bytes).
  void add(std::string_view bytes);
  /// int8, or int4 when it fits.
  void add(std::int64_t number);
  void add(model::timestamp time);

  template <class T> void add(const std::optional<T>& value) {
    if (value) {
      add(*value);
    } else {
      add_null();
    }
  }

  /// The finished array, ready to send as a binary parameter. The builder
  /// is empty afterwards.
  std::string take();

  std::size_t size() const noexcept { return count_; }

private:
  void expect(bool fits, const char* what) const;
  void reset();

  pg_element element_;
  // The header's room is kept at the front and filled in by take(), so the
  // elements are never copied.
  std::string bytes_;
  std::uint32_t count_ = 0;
  bool has_null_ = false;
};

/// One builder per element type, in the order given: the columns of a
/// statement's array parameters.
template <std::size_t N> std::array<binary_array, N> binary_arrays(const pg_element (&types)[N]) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<binary_array, N>{binary_array(types[I])...};
  }
  (std::make_index_sequence<N>{});
}

/// A bigint parameter in the binary format.
std::string binary_int8(std::int64_t value);

/// A timestamptz parameter in the binary format.
std::string binary_timestamptz(model::timestamp time);

} // namespace shopmirror::db
