#include "cli/housekeeping.hpp"

#include "db/maintenance.hpp"
#include "telemetry/log.hpp"

#include <algorithm>

namespace shopmirror::ingest {

housekeeping::housekeeping(const config& settings)
    : settings_(settings), thread_([this] { run(); }) {}

housekeeping::~housekeeping() { stop(); }

void housekeeping::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void housekeeping::run() {
  std::unique_lock lock(mutex_);
  const std::chrono::seconds every = settings_.prune_every;
  std::chrono::seconds pause = std::min(every, std::chrono::seconds(60));
  while (!wake_.wait_for(lock, pause, [this] { return stopping_; })) {
    lock.unlock();
    try {
      if (const auto deleted = db::prune_deliveries(settings_.database, settings_.delivery_retention)) {
        telemetry::log_event(telemetry::level::info, "deliveries_pruned")
            .field("deleted", *deleted)
            .field("retention_s", static_cast<std::int64_t>(settings_.delivery_retention.count()));
      }
    } catch (const std::exception& e) {
      telemetry::log_event(telemetry::level::warn, "prune_failed").field("error", e.what());
    }
    lock.lock();
    pause = every;
  }
}

} // namespace shopmirror::ingest
