#pragma once

// Internal to db/: PostgreSQL array literals, how batches reach the database.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::db {

/// Builds the text form of a one-dimensional array, `{"a",NULL,"b"}`,
/// quoting every element so that no value can break out of it.
class array_literal {
public:
  array_literal() { text_ += '{'; }

  void add_null();
  void add(std::string_view text);
  void add(std::int64_t number);
  /// A bytea element in hex form, for bytes that need not be valid UTF-8.
  void add_bytes(std::string_view bytes);

  template <class T> void add(const std::optional<T>& value) {
    if (value) {
      add(*value);
    } else {
      add_null();
    }
  }

  /// The finished literal. The builder is empty afterwards.
  std::string take();

  std::size_t size() const noexcept { return count_; }

private:
  void separator();
  std::string text_;
  std::size_t count_ = 0;
};

} // namespace shopmirror::db
