#pragma once

// Slicing a fuzzer's input into the parts a target needs, the same way on
// every run so that a saved input replays exactly.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shopmirror::fuzz {

class input {
public:
  input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  /// One byte, or 0 once the input is used up.
  std::uint8_t byte() {
    if (rest_.empty()) {
      return 0;
    }
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  /// Up to the next `separator` (consumed), or everything left.
  std::string_view until(char separator) {
    const std::size_t at = rest_.find(separator);
    const std::string_view part = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return part;
  }

  std::string_view rest() const noexcept { return rest_; }

private:
  std::string_view rest_;
};

} // namespace shopmirror::fuzz
