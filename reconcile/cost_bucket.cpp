#include "reconcile/cost_bucket.hpp"

#include <algorithm>

namespace shopmirror::reconcile {

double cost_bucket::available_at(clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - seen_).count();
  return std::min(last_->maximum_available,
                  last_->currently_available + last_->restore_rate * std::max(0.0, elapsed));
}

cost_bucket::clock::duration cost_bucket::wait_for(double cost, clock::time_point now) const {
  if (!last_ || last_->restore_rate <= 0) {
    return clock::duration::zero();
  }
  const double missing = std::min(cost, last_->maximum_available) - available_at(now);
  if (missing <= 0) {
    return clock::duration::zero();
  }
  // A little over the exact time: the server's clock and ours differ by the
  // request's travel.
  const double seconds = missing / last_->restore_rate + 0.05;
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
}

void cost_bucket::charge(double cost, clock::time_point now) {
  if (!last_) {
    return;
  }
  last_->currently_available = available_at(now) - cost;
  seen_ = now;
}

void cost_bucket::update(const throttle_status& status, clock::time_point now) {
  last_ = status;
  seen_ = now;
}

std::optional<double> cost_bucket::capacity() const {
  if (!last_) {
    return std::nullopt;
  }
  return last_->maximum_available;
}

} // namespace shopmirror::reconcile
