#pragma once

#include <chrono>
#include <optional>

namespace shopmirror::reconcile {

/// What a GraphQL response says of the shop's cost bucket
/// (`extensions.cost.throttleStatus`).
struct throttle_status {
  double maximum_available = 0;
  double currently_available = 0;
  double restore_rate = 0;
};

/// The client's view of Shopify's leaky bucket of query cost: full at
/// `maximum_available`, refilled at `restore_rate` points a second, each
/// request charged its requested cost up front. Knowing the last status and
/// when it was seen, the client waits before a request that would not fit
/// instead of being throttled. Not thread-safe (one per shop client).
class cost_bucket {
public:
  using clock = std::chrono::steady_clock;

  /// How long to wait before spending `cost` points; zero while the bucket
  /// is unknown (the first request teaches it).
  clock::duration wait_for(double cost, clock::time_point now = clock::now()) const;

  /// Records a request of `cost` sent now (charged until a status arrives).
  void charge(double cost, clock::time_point now = clock::now());

  /// Records the status a response carried.
  void update(const throttle_status& status, clock::time_point now = clock::now());

  /// The largest cost that can ever fit (the bucket's size), if known.
  std::optional<double> capacity() const;

private:
  double available_at(clock::time_point now) const;

  std::optional<throttle_status> last_;
  clock::time_point seen_{};
};

} // namespace shopmirror::reconcile
