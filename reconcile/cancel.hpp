#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace shopmirror::reconcile {

/// Thrown inside a run when the process is stopping.
class cancelled : public std::runtime_error {
public:
  cancelled() : std::runtime_error("shopmirror is stopping") {}
};

/// Lets a stopping process interrupt every wait of a run (backoff, bucket,
/// bulk polling) at once. Thread-safe.
class cancel_token {
public:
  void cancel() {
    {
      const std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
  }

  bool is_cancelled() const {
    const std::lock_guard lock(mutex_);
    return cancelled_;
  }

  /// Throws `cancelled` if cancelled.
  void check() const {
    if (is_cancelled()) {
      throw cancelled();
    }
  }

  /// Sleeps for `duration` unless cancelled first; then throws `cancelled`.
  template <class Rep, class Period> void sleep_for(std::chrono::duration<Rep, Period> duration) {
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, duration, [this] { return cancelled_; })) {
      throw cancelled();
    }
  }

private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool cancelled_ = false;
};

} // namespace shopmirror::reconcile
