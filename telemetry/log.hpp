#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace shopmirror::telemetry {

enum class level { debug, info, warn, error };

/// Lines below this level are dropped. Set once at start-up.
void set_min_level(level min) noexcept;
bool enabled(level lvl) noexcept;

/// One event, written as one JSON object on one line of stderr when the
/// builder is destroyed (a single write(2), so lines from threads never
/// interleave). Values are escaped; never pass a secret, a signature or a body.
///
///   log_event(level::info, "delivery").field("shop", shop).field("ms", 3);
class log_event {
public:
  log_event(level lvl, std::string_view event);
  log_event(const log_event&) = delete;
  log_event& operator=(const log_event&) = delete;
  ~log_event();

  log_event& field(std::string_view key, std::string_view value);
  log_event& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  log_event& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view(value));
  }
  log_event& field(std::string_view key, std::int64_t value);
  log_event& field(std::string_view key, std::uint64_t value);
  log_event& field(std::string_view key, int value) {
    return field(key, static_cast<std::int64_t>(value));
  }
  log_event& field(std::string_view key, double value);
  log_event& field(std::string_view key, bool value);

private:
  void key(std::string_view name);
  bool enabled_;
  std::string line_;
};

/// Appends `text` to `out` as the inside of a JSON string. Bytes that are not
/// valid UTF-8 become U+FFFD, so the output is always valid JSON.
void append_json_escaped(std::string& out, std::string_view text);

/// Lets through at most `burst` events per key in each `window`, so a client
/// that can trigger a warning (a bad signature) cannot flood the log.
/// Thread-safe.
class rate_limiter {
public:
  rate_limiter(std::uint32_t burst, std::chrono::steady_clock::duration window)
      : burst_(burst), window_(window) {}

  struct decision {
    bool allowed = false;
    /// Events dropped for this key since the last one allowed.
    std::uint64_t suppressed = 0;
  };

  decision allow(std::string_view key,
                 std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

private:
  struct slot {
    std::chrono::steady_clock::time_point window_start;
    std::uint32_t used = 0;
    std::uint64_t suppressed = 0;
  };
  std::uint32_t burst_;
  std::chrono::steady_clock::duration window_;
  std::mutex mutex_;
  std::unordered_map<std::string, slot> slots_;
};

} // namespace shopmirror::telemetry
