#pragma once

#include "cli/config.hpp"
#include "sync/background_loop.hpp"

namespace shopmirror::cli {

/// Prunes the delivery log in the background: a minute after start, then
/// hourly. Replicas share the work through an advisory lock.
class housekeeping {
public:
  explicit housekeeping(const config& settings);
  ~housekeeping();
  housekeeping(const housekeeping&) = delete;
  housekeeping& operator=(const housekeeping&) = delete;

  void stop();

private:
  void run();
  const config& settings_;
  sync::background_loop loop_;
};

} // namespace shopmirror::cli
