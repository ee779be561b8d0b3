#pragma once

#include "sync/background_loop.hpp"

#include <chrono>
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
  void cancel() { signal_.stop(); }

  bool is_cancelled() const { return signal_.stopping(); }

  /// Throws `cancelled` if cancelled.
  void check() const {
    if (is_cancelled()) {
      throw cancelled();
    }
  }

  /// Sleeps for `duration` unless cancelled first; then throws `cancelled`.
  template <class Rep, class Period> void sleep_for(std::chrono::duration<Rep, Period> duration) {
    if (signal_.wait_for(duration)) {
      throw cancelled();
    }
  }

private:
  sync::stop_signal signal_; ///< never nudged
};

} // namespace shopmirror::reconcile
