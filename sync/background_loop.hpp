#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace shopmirror::sync {

/// A stop that ends every wait on it at once, now and later, and a nudge
/// that ends the current wait (or the next one) early without stopping.
/// Thread-safe.
class stop_signal {
public:
  /// True for the call that stopped it, false if it was stopped already.
  bool stop() {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) {
        return false;
      }
      stopping_ = true;
    }
    wake_.notify_all();
    return true;
  }

  void nudge() {
    {
      const std::lock_guard lock(mutex_);
      nudged_ = true;
    }
    wake_.notify_all();
  }

  /// Lock-free: for work that checks between steps whether to go on.
  bool stopping() const noexcept { return stopping_.load(); }

  /// Waits for `pause`, a stop or a nudge (which it uses up). True when
  /// stopping.
  template <class Rep, class Period> bool wait_for(std::chrono::duration<Rep, Period> pause) {
    return wait_until(std::chrono::steady_clock::now() + pause);
  }

  /// Waits until `when`, a stop or a nudge (which it uses up). True when
  /// stopping.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> when) {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, when, [this] { return stopping_ || nudged_; });
    nudged_ = false;
    return stopping_;
  }

private:
  std::mutex mutex_;
  std::condition_variable wake_;
  // Written under mutex_ so that no wait misses it; atomic so that
  // stopping() needs no lock.
  std::atomic<bool> stopping_{false};
  bool nudged_ = false; // under mutex_
};

/// A thread of its own that does a pass of work, waits, and does it again,
/// until stopped. The body runs the loop itself (its passes, and wait_for
/// or wait_until between them), so each owner keeps its own rhythm.
/// Thread-safe, but for start() (once, before any other call).
class background_loop {
public:
  background_loop() = default;
  /// Stops the thread and waits for it.
  ~background_loop() { stop(); }
  background_loop(const background_loop&) = delete;
  background_loop& operator=(const background_loop&) = delete;

  /// Runs `body` on the loop's thread.
  void start(std::function<void()> body) { thread_ = std::thread(std::move(body)); }

  /// Ends every wait without waiting for the thread; true for the call
  /// that stopped the loop.
  bool request_stop() { return signal_.stop(); }

  /// request_stop(), then waits for the thread to end its pass. Only the
  /// call that stopped the loop waits (and returns true), so two callers
  /// never join the thread at once.
  bool stop() {
    if (!request_stop()) {
      return false;
    }
    join();
    return true;
  }

  /// Waits for a stopped loop's thread to end, if it was started.
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  /// As stop_signal's, for the body.
  void nudge() { signal_.nudge(); }
  bool stopping() const noexcept { return signal_.stopping(); }
  template <class Rep, class Period> bool wait_for(std::chrono::duration<Rep, Period> pause) {
    return signal_.wait_for(pause);
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> when) {
    return signal_.wait_until(when);
  }

private:
  stop_signal signal_;
  std::thread thread_;
};

} // namespace shopmirror::sync
