#pragma once

#include "telemetry/metrics.hpp"

namespace shopmirror::ingest {

/// The service's metric families, registered once (README, Operations: What to watch).
struct service_metrics {
  explicit service_metrics(telemetry::registry& registry);

  telemetry::counter_family& deliveries;             // shop, topic, outcome
  telemetry::counter_family& dead_letters;           // shop, kind
  telemetry::counter_family& signature_failures;     // reason
  telemetry::counter_family& api_version_mismatches; // shop, api_version
  telemetry::counter_family& http_requests;          // route, status
  telemetry::counter_family& connections_refused;
  telemetry::histogram_family& request_seconds; // route
  telemetry::histogram_family& db_commit_seconds;
  telemetry::histogram_family& db_batch_size;
  telemetry::gauge_family& db_writers; // state: busy, connected, total
  telemetry::gauge_family& db_queue_depth;
  telemetry::gauge_family& http_connections;
  telemetry::gauge_family& http_in_flight;
  telemetry::gauge_family& ready;
  telemetry::counter_family& compliance_requests; // topic, outcome
  telemetry::counter_family& shop_erasures;       // outcome: erased, failed
  telemetry::gauge_family& shop_erasures_pending; // state: due, failing
};

} // namespace shopmirror::ingest
