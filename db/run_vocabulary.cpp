#include "db/run_vocabulary.hpp"

#include <array>

namespace shopmirror::db {

namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> parse_among(const std::array<Enum, N>& all, std::string_view text) noexcept {
  for (const Enum value : all) {
    if (to_string(value) == text) {
      return value;
    }
  }
  return std::nullopt;
}

} // namespace

std::string_view to_string(run_status status) noexcept {
  switch (status) {
  case run_status::running:
    return "running";
  case run_status::succeeded:
    return "succeeded";
  case run_status::held:
    return "held";
  case run_status::failed:
    return "failed";
  case run_status::interrupted:
    return "interrupted";
  case run_status::superseded:
    return "superseded";
  }
  return "failed";
}

std::string_view to_string(run_mode mode) noexcept {
  switch (mode) {
  case run_mode::bulk:
    return "bulk";
  case run_mode::paginated:
    return "paginated";
  case run_mode::since:
    return "since";
  }
  return "bulk";
}

std::string_view to_string(run_trigger trigger) noexcept {
  switch (trigger) {
  case run_trigger::schedule:
    return "schedule";
  case run_trigger::api:
    return "api";
  case run_trigger::command:
    return "command";
  }
  return "command";
}

std::optional<run_status> parse_run_status(std::string_view text) noexcept {
  return parse_among(std::array{run_status::running, run_status::succeeded, run_status::held,
                                run_status::failed, run_status::interrupted,
                                run_status::superseded},
                     text);
}

std::optional<run_mode> parse_run_mode(std::string_view text) noexcept {
  return parse_among(std::array{run_mode::bulk, run_mode::paginated, run_mode::since}, text);
}

std::optional<run_trigger> parse_run_trigger(std::string_view text) noexcept {
  return parse_among(std::array{run_trigger::schedule, run_trigger::api, run_trigger::command},
                     text);
}

std::optional<run_mode> parse_listing_mode(std::string_view text) noexcept {
  return parse_among(std::array{run_mode::bulk, run_mode::paginated}, text);
}

} // namespace shopmirror::db
