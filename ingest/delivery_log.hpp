#pragma once

// What the service logs about deliveries. A line per delivery would exceed
// journald's default rate limit (10,000 lines in 30 s) in a burst, and
// journald then drops lines of every kind. So each delivery is a debug line;
// at info there is one summary line per shop and outcome each interval in
// which something happened; and the deliveries someone must look at (a
// failure, a 503, a dead letter, a stale drop) still get a line each, but at
// most so many per kind and interval, the rest counted in the next summary.

#include "model/delivery.hpp"
#include "sync/background_loop.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shopmirror::ingest {

/// The counting behind the delivery log: outcomes per shop over an interval,
/// and a cap on the lines written one by one. Time is passed in, so it is
/// tested without a clock. Thread-safe.
class delivery_tally {
public:
  using clock = std::chrono::steady_clock;

  delivery_tally(clock::duration interval, std::uint32_t lines_per_kind, clock::time_point start);

  /// Counts one delivery.
  void count(std::string_view shop, std::string_view outcome);

  /// Whether a line of `kind` may be written at `now`: at most
  /// `lines_per_kind` an interval; one refused is counted as suppressed.
  bool admit(std::string_view kind, clock::time_point now);

  /// Orders (shop, outcome) pairs whether held as strings or looked up as
  /// views: counting a delivery allocates nothing once its pair is there.
  struct pair_less {
    using is_transparent = void;
    template <class A, class B> bool operator()(const A& a, const B& b) const {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };

  struct summary {
    /// Deliveries per (shop, outcome).
    std::map<std::pair<std::string, std::string>, std::uint64_t, pair_less> deliveries;
    /// Lines not written, per kind.
    std::map<std::string, std::uint64_t> suppressed;
    /// The time the summary covers.
    clock::duration covered{};
  };

  /// Once an interval has passed since the last summary (or `now` is the
  /// end, with `final`): what was counted since, and counting starts over.
  /// std::nullopt when it is not time yet or nothing happened.
  std::optional<summary> take(clock::time_point now, bool final = false);

private:
  clock::duration interval_;
  std::uint32_t lines_per_kind_;
  std::mutex mutex_;
  clock::time_point summary_start_;
  clock::time_point lines_start_;
  std::map<std::string, std::uint32_t, std::less<>> lines_;
  summary pending_;
};

/// Logs each delivery as described above, writing the summaries from a
/// thread of its own (the last one when stopped). Thread-safe.
class delivery_log {
public:
  explicit delivery_log(std::chrono::milliseconds interval = std::chrono::seconds(10),
                        std::uint32_t lines_per_kind = 20);
  ~delivery_log();
  delivery_log(const delivery_log&) = delete;
  delivery_log& operator=(const delivery_log&) = delete;

  /// What is logged of one delivery. Views valid for the call only.
  struct entry {
    std::string_view event; ///< "delivery" or "compliance_request"
    const model::delivery* meta = nullptr;
    model::apply_outcome outcome = model::apply_outcome::applied;
    double ms = 0;
    std::string_view client;
    std::string_view request_id;
  };

  void record(const entry& delivery);

  /// Writes the last summary and ends the thread.
  void stop();

private:
  void run();
  void write(const delivery_tally::summary& summary);

  delivery_tally tally_;
  std::chrono::milliseconds interval_;
  sync::background_loop loop_;
};

} // namespace shopmirror::ingest
