#include "cli/housekeeping.hpp"

#include "db/maintenance.hpp"
#include "telemetry/log.hpp"

#include <algorithm>

namespace shopmirror::cli {

housekeeping::housekeeping(const config& settings) : settings_(settings) {
  loop_.start([this] { run(); });
}

housekeeping::~housekeeping() {
  stop();
}

void housekeeping::stop() {
  loop_.stop();
}

void housekeeping::run() {
  const std::chrono::seconds every = settings_.prune_every;
  std::chrono::seconds pause = std::min(every, std::chrono::seconds(60));
  while (!loop_.wait_for(pause)) {
    try {
      if (const auto deleted =
              db::prune_deliveries(settings_.database, settings_.delivery_retention)) {
        telemetry::log_event(telemetry::level::info, "deliveries_pruned")
            .field("deleted", *deleted)
            .field("retention_s", static_cast<std::int64_t>(settings_.delivery_retention.count()));
      }
    } catch (const std::exception& e) {
      telemetry::log_event(telemetry::level::warn, "prune_failed").field("error", e.what());
    }
    pause = every;
  }
}

} // namespace shopmirror::cli
