#include "db/run_vocabulary.hpp"

#include <array>
#include <cstddef>

namespace shopmirror::db {

namespace {

// Each enum's spellings, in the order of its enumerators.
constexpr std::array<std::string_view, 6> status_names{"running", "succeeded",   "held",
                                                       "failed",  "interrupted", "superseded"};
constexpr std::array<std::string_view, 3> mode_names{"bulk", "paginated", "since"};
constexpr std::array<std::string_view, 3> trigger_names{"schedule", "api", "command"};

static_assert(status_names.size() == static_cast<std::size_t>(run_status::superseded) + 1);
static_assert(mode_names.size() == static_cast<std::size_t>(run_mode::since) + 1);
static_assert(trigger_names.size() == static_cast<std::size_t>(run_trigger::command) + 1);

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::string_view, N>& names, Enum value) noexcept {
  const auto index = static_cast<std::size_t>(value);
  return index < N ? names[index] : std::string_view("unknown");
}

// Among the first `count` names only.
template <typename Enum, std::size_t N>
std::optional<Enum> parse_name(const std::array<std::string_view, N>& names, std::string_view text,
                               std::size_t count = N) noexcept {
  for (std::size_t i = 0; i < count && i < N; ++i) {
    if (names[i] == text) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

} // namespace

std::string_view to_string(run_status status) noexcept {
  return name_of(status_names, status);
}
std::string_view to_string(run_mode mode) noexcept {
  return name_of(mode_names, mode);
}
std::string_view to_string(run_trigger trigger) noexcept {
  return name_of(trigger_names, trigger);
}

std::optional<run_status> parse_run_status(std::string_view text) noexcept {
  return parse_name<run_status>(status_names, text);
}

std::optional<run_mode> parse_run_mode(std::string_view text) noexcept {
  return parse_name<run_mode>(mode_names, text);
}

std::optional<run_trigger> parse_run_trigger(std::string_view text) noexcept {
  return parse_name<run_trigger>(trigger_names, text);
}

std::optional<run_mode> parse_listing_mode(std::string_view text) noexcept {
  // The modes before since: bulk and paginated.
  return parse_name<run_mode>(mode_names, text, static_cast<std::size_t>(run_mode::since));
}

} // namespace shopmirror::db
