#pragma once

// Internal to db/: how every batch reaches PostgreSQL. Arrays go in the
// binary wire format (what array_send writes and array_recv reads), so the
// server takes each element as it is: no quoting or escaping on our side, no
// text parsing on its side. Measured (README, Performance): parsing array
// literals was about a tenth of the database's time per webhook.

#include "model/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::db {

/// Element types, by their PostgreSQL type oid. The server refuses an
/// array whose element type is not the one the statement declares.
enum class pg_element : std::uint32_t {
  boolean = 16,
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
  /// An array of a type known by its oid only (a composite type's, looked
  /// up in the database), whose elements add_encoded() takes.
  explicit binary_array(std::uint32_t element_oid);

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
  friend class binary_record;

  void expect(bool fits, const char* what) const;
  void reset();

  std::uint32_t element_;
  // The header's room is kept at the front and filled in by take(), so the
  // elements are never copied.
  std::string bytes_;
  std::uint32_t count_ = 0;
  bool has_null_ = false;
};

/// Builds one value of a composite type in the binary format (what
/// record_send writes and record_recv reads), as the next element of an
/// array, written straight into the array's buffer: the column count, then
/// per column its type oid, its length (-1 for null) and its bytes. The
/// server checks each column's oid against the type's. Adding a value that
/// does not fit the column's type throws std::logic_error; a record left
/// unfinished by an exception leaves its array unusable.
class binary_record {
public:
  /// Starts the next element of `array` (an array of the composite type);
  /// finish() ends it. No other element may be added to `array` meanwhile.
  binary_record(binary_array& array, std::size_t columns);

  void add_null(pg_element type);
  /// text (valid UTF-8 without NUL) or bytea.
  void add(pg_element type, std::string_view bytes);
  /// int8, or int4 when it fits.
  void add(pg_element type, std::int64_t number);
  void add(pg_element type, model::timestamp time);
  void add_bool(pg_element type, bool value);

  template <class T> void add(pg_element type, const std::optional<T>& value) {
    if (value) {
      add(type, *value);
    } else {
      add_null(type);
    }
  }

  /// Ends the element; throws std::logic_error unless every column was
  /// added.
  void finish();

private:
  void column(pg_element type, std::uint32_t length);

  binary_array& array_;
  std::string& bytes_; // the array's
  std::size_t start_;  // where the element's length goes
  std::size_t columns_;
  std::size_t added_ = 0;
  bool finished_ = false;
};

/// A bigint parameter in the binary format.
std::string binary_int8(std::int64_t value);

/// A timestamptz parameter in the binary format.
std::string binary_timestamptz(model::timestamp time);

} // namespace shopmirror::db
