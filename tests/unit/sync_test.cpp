#include "sync/background_loop.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <doctest/doctest.h>

using namespace shopmirror;

// No clocks are read here: a wait that a stop or a nudge fails to end runs
// into the hour-long pause, and CTest's timeout fails the test.
constexpr std::chrono::hours long_pause{1};

TEST_SUITE("sync") {

  TEST_CASE("a stop ends a wait at once and every wait after it") {
    sync::stop_signal signal;
    std::thread stopper([&] { signal.stop(); });
    CHECK(signal.wait_for(long_pause));
    stopper.join();
    CHECK(signal.stopping());
    CHECK(signal.wait_for(long_pause));
    CHECK(signal.wait_until(std::chrono::system_clock::now() + long_pause));
    CHECK_FALSE(signal.stop()); // only the first stop counts
  }

  TEST_CASE("a nudge ends one wait early without stopping") {
    sync::stop_signal signal;
    signal.nudge(); // before the wait: the wait still sees it
    CHECK_FALSE(signal.wait_for(long_pause));
    CHECK_FALSE(signal.stopping());
    std::thread nudger([&] { signal.nudge(); });
    CHECK_FALSE(signal.wait_for(long_pause));
    nudger.join();
    // Used up: this wait runs to its (short) end.
    CHECK_FALSE(signal.wait_for(std::chrono::milliseconds(1)));
  }

  TEST_CASE("a background loop runs its passes until stopped and is joined once") {
    std::atomic<int> passes{0};
    std::atomic<bool> first_pass_done{false};
    sync::background_loop loop;
    loop.start([&] {
      while (!loop.stopping()) {
        ++passes;
        first_pass_done = true;
        first_pass_done.notify_all();
        loop.wait_for(long_pause);
      }
    });
    first_pass_done.wait(false);
    loop.nudge(); // a second pass, or the stop below ends the wait: either way no hang
    CHECK(loop.stop());
    CHECK_FALSE(loop.stop());
    CHECK(passes.load() >= 1);
  }

  TEST_CASE("a loop that was never started stops") {
    sync::background_loop loop;
    CHECK(loop.stop());
    CHECK(loop.stopping());
  }

} // TEST_SUITE
