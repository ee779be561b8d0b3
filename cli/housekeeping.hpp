#pragma once

#include "cli/config.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace shopmirror::ingest {

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
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace shopmirror::ingest
