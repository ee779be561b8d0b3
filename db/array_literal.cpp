#include "db/array_literal.hpp"

namespace shopmirror::db {

void array_literal::separator() {
  if (count_++ != 0) {
    text_ += ',';
  }
}

void array_literal::add_null() {
  separator();
  text_ += "NULL";
}

void array_literal::add(std::string_view text) {
  separator();
  text_.reserve(text_.size() + text.size() + 2);
  text_ += '"';
  // Whole runs between the characters that need a backslash are appended
  // at once: a product's source is kilobytes, and this runs for every one.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"' || text[i] == '\\') {
      text_.append(text.data() + run, i - run);
      text_ += '\\';
      run = i; // the character itself starts the next run
    }
  }
  text_.append(text.data() + run, text.size() - run);
  text_ += '"';
}

void array_literal::add(std::int64_t number) {
  separator();
  text_ += std::to_string(number);
}

void array_literal::add_bytes(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  separator();
  // Inside a quoted element a backslash is escaped: "\\x..." reads as \x...
  text_ += "\"\\\\x";
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    text_ += hex[byte >> 4];
    text_ += hex[byte & 15];
  }
  text_ += '"';
}

std::string array_literal::take() {
  text_ += '}';
  std::string out = std::move(text_);
  text_.assign(1, '{');
  count_ = 0;
  return out;
}

} // namespace shopmirror::db
