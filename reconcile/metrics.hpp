#pragma once

#include "telemetry/metrics.hpp"

namespace shopmirror::reconcile {

/// The reconcile's metric families (README, Operations: What to watch).
struct reconcile_metrics {
  explicit reconcile_metrics(telemetry::registry& registry);

  telemetry::counter_family& runs;           // shop, status
  telemetry::gauge_family& last_success;     // shop: unix time of the last successful run
  telemetry::gauge_family& last_drift;       // shop, kind: inserted, updated, unchanged, revived,
                                             // tombstoned, failed
  telemetry::gauge_family& held_sweep;       // shop: what the latest run held back
  telemetry::gauge_family& running;          // shop: 1 while this process runs one
  telemetry::counter_family& refreshes;      // shop, outcome: applied, gone, failed
  telemetry::gauge_family& refresh_requests; // shop, state: due, failing, paused
  telemetry::gauge_family& subscriptions;    // shop, topic, state: 1 for the state it is in
  telemetry::gauge_family& subscriptions_checked; // shop, outcome: unix time of the last check
  telemetry::gauge_family& credentials_expiry;    // shop, kind: unix time the token expires
};

} // namespace shopmirror::reconcile
