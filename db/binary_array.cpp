#include "db/binary_array.hpp"

#include <limits>
#include <stdexcept>

namespace shopmirror::db {
namespace {

// ndim, flags, element oid, then the one dimension's size and lower bound.
constexpr std::size_t header_size = 5 * 4;

// PostgreSQL's epoch for timestamps, 2000-01-01T00:00:00Z, in Unix microseconds.
constexpr std::int64_t postgres_epoch_micros = 946'684'800'000'000;

void put32(std::string& out, std::uint32_t value) {
  const char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                         static_cast<char>(value >> 8), static_cast<char>(value)};
  out.append(bytes, 4);
}

void put64(std::string& out, std::uint64_t value) {
  put32(out, static_cast<std::uint32_t>(value >> 32));
  put32(out, static_cast<std::uint32_t>(value));
}

void set32(std::string& out, std::size_t at, std::uint32_t value) {
  out[at] = static_cast<char>(value >> 24);
  out[at + 1] = static_cast<char>(value >> 16);
  out[at + 2] = static_cast<char>(value >> 8);
  out[at + 3] = static_cast<char>(value);
}

} // namespace

std::string binary_int8(std::int64_t value) {
  std::string out;
  put64(out, static_cast<std::uint64_t>(value));
  return out;
}

std::string binary_timestamptz(model::timestamp time) {
  return binary_int8(time.micros_since_epoch - postgres_epoch_micros);
}

binary_array::binary_array(pg_element element)
    : binary_array(static_cast<std::uint32_t>(element)) {}

binary_array::binary_array(std::uint32_t element_oid) : element_(element_oid) {
  reset();
}

void binary_array::reset() {
  bytes_.assign(header_size, '\0');
  count_ = 0;
  has_null_ = false;
}

void binary_array::expect(bool fits, const char* what) const {
  if (!fits) {
    throw std::logic_error(std::string("binary_array: ") + what +
                           " added to an array of element oid " + std::to_string(element_));
  }
}

void binary_array::add_null() {
  put32(bytes_, 0xFFFFFFFFU); // length -1
  has_null_ = true;
  ++count_;
}

void binary_array::add(std::string_view bytes) {
  expect(element_ == static_cast<std::uint32_t>(pg_element::text) ||
             element_ == static_cast<std::uint32_t>(pg_element::bytea),
         "bytes");
  expect(bytes.size() <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
         "a value over 2 GiB");
  put32(bytes_, static_cast<std::uint32_t>(bytes.size()));
  bytes_.append(bytes);
  ++count_;
}

void binary_array::add(std::int64_t number) {
  if (element_ == static_cast<std::uint32_t>(pg_element::int4)) {
    expect(number >= std::numeric_limits<std::int32_t>::min() &&
               number <= std::numeric_limits<std::int32_t>::max(),
           "an integer beyond int4");
    put32(bytes_, 4);
    put32(bytes_, static_cast<std::uint32_t>(static_cast<std::int32_t>(number)));
  } else {
    expect(element_ == static_cast<std::uint32_t>(pg_element::int8), "an integer");
    put32(bytes_, 8);
    put64(bytes_, static_cast<std::uint64_t>(number));
  }
  ++count_;
}

void binary_array::add(model::timestamp time) {
  expect(element_ == static_cast<std::uint32_t>(pg_element::timestamptz), "a timestamp");
  // Microseconds since PostgreSQL's epoch: timestamptz's binary form.
  put32(bytes_, 8);
  put64(bytes_, static_cast<std::uint64_t>(time.micros_since_epoch - postgres_epoch_micros));
  ++count_;
}

std::string binary_array::take() {
  if (count_ == 0) {
    // No dimension at all: the empty array.
    std::string empty(12, '\0');
    set32(empty, 8, element_);
    reset();
    return empty;
  }
  set32(bytes_, 0, 1);
  set32(bytes_, 4, has_null_ ? 1 : 0);
  set32(bytes_, 8, element_);
  set32(bytes_, 12, count_);
  set32(bytes_, 16, 1);
  std::string out = std::move(bytes_);
  reset();
  return out;
}

binary_record::binary_record(binary_array& array, std::size_t columns)
    : array_(array), bytes_(array.bytes_), start_(array.bytes_.size()), columns_(columns) {
  put32(bytes_, 0); // the element's length, set by finish()
  put32(bytes_, static_cast<std::uint32_t>(columns));
}

void binary_record::column(pg_element type, std::uint32_t length) {
  if (added_ == columns_ || finished_) {
    throw std::logic_error("binary_record: more columns than the " + std::to_string(columns_) +
                           " declared");
  }
  ++added_;
  put32(bytes_, static_cast<std::uint32_t>(type));
  put32(bytes_, length);
}

void binary_record::add_null(pg_element type) {
  column(type, 0xFFFFFFFFU); // length -1
}

void binary_record::add(pg_element type, std::string_view bytes) {
  if ((type != pg_element::text && type != pg_element::bytea) ||
      bytes.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::logic_error("binary_record: bytes for a column of oid " +
                           std::to_string(static_cast<std::uint32_t>(type)));
  }
  column(type, static_cast<std::uint32_t>(bytes.size()));
  bytes_.append(bytes);
}

void binary_record::add(pg_element type, std::int64_t number) {
  if (type == pg_element::int4 && number >= std::numeric_limits<std::int32_t>::min() &&
      number <= std::numeric_limits<std::int32_t>::max()) {
    column(type, 4);
    put32(bytes_, static_cast<std::uint32_t>(static_cast<std::int32_t>(number)));
  } else if (type == pg_element::int8) {
    column(type, 8);
    put64(bytes_, static_cast<std::uint64_t>(number));
  } else {
    throw std::logic_error("binary_record: the integer " + std::to_string(number) +
                           " for a column of oid " +
                           std::to_string(static_cast<std::uint32_t>(type)));
  }
}

void binary_record::add(pg_element type, model::timestamp time) {
  if (type != pg_element::timestamptz) {
    throw std::logic_error("binary_record: a timestamp for a column of oid " +
                           std::to_string(static_cast<std::uint32_t>(type)));
  }
  column(type, 8);
  put64(bytes_, static_cast<std::uint64_t>(time.micros_since_epoch - postgres_epoch_micros));
}

void binary_record::add_bool(pg_element type, bool value) {
  if (type != pg_element::boolean) {
    throw std::logic_error("binary_record: a boolean for a column of oid " +
                           std::to_string(static_cast<std::uint32_t>(type)));
  }
  column(type, 1);
  bytes_.push_back(value ? '\1' : '\0');
}

void binary_record::finish() {
  if (added_ != columns_ || finished_) {
    throw std::logic_error("binary_record: " + std::to_string(added_) + " of " +
                           std::to_string(columns_) + " columns added" +
                           (finished_ ? ", and finished already" : ""));
  }
  const std::size_t length = bytes_.size() - start_ - 4;
  array_.expect(length <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                "a value over 2 GiB");
  set32(bytes_, start_, static_cast<std::uint32_t>(length));
  ++array_.count_;
  finished_ = true;
}

} // namespace shopmirror::db
