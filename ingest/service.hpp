#pragma once

#include "crypto/signature.hpp"
#include "db/health.hpp"
#include "db/settings.hpp"
#include "db/writer.hpp"
#include "ingest/delivery_log.hpp"
#include "ingest/erasure_worker.hpp"
#include "ingest/http_server.hpp"
#include "ingest/service_metrics.hpp"
#include "reconcile/coordinator.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::ingest {

/// The routes shopmirror serves.
enum class route {
  webhook,
  healthz,
  readyz,
  metrics,
  reconcile,
  reconcile_runs,
  status,
  not_found
};

route route_of(std::string_view target) noexcept;
std::string_view to_string(route r) noexcept;

/// What the service reads of the configuration; `serve` fills it in.
struct service_settings {
  db::db_settings database;
  /// The largest webhook body accepted (413 above it).
  std::uint64_t max_body_bytes = 0;
  /// A delivery not committed within this time is answered 503.
  std::chrono::milliseconds ack_timeout{0};
  /// The Admin API version shopmirror is pinned to (a delivery of another
  /// version is counted as a mismatch).
  std::string api_version;
  /// The shops served, by domain: what GET /status reports on.
  std::vector<std::string> shops;
  /// The tokens that open /status: its own and the reconcile's, where set.
  std::vector<std::string> status_tokens;
};

/// shopmirror's HTTP application: webhooks in, health and metrics out, and
/// reconcile triggered and reported. Holds references only; everything it
/// uses outlives it. `reconciler` may be null (no shop configured), and so
/// may `eraser` (shop/redact requests then wait for a worker's next look).
class service : public http_application {
public:
  service(service_settings settings, const crypto::webhook_verifier& verifier,
          db::delivery_writer& writer, db::readiness_monitor& readiness,
          telemetry::registry& registry, service_metrics& metrics, delivery_log& deliveries,
          reconcile::coordinator* reconciler = nullptr, erasure_worker* eraser = nullptr);

  header_decision on_header(const http_header& header) override;
  boost::asio::awaitable<http_response> handle(http_request request,
                                               request_context context) override;

private:
  boost::asio::awaitable<http_response> webhook(http_request request,
                                                const request_context& context);
  /// Counts a refused signature, and logs it a few times a minute.
  void refused_signature(crypto::signature_status status, const request_context& context);
  boost::asio::awaitable<model::apply_outcome>
  apply(model::delivery_item item, std::chrono::steady_clock::time_point deadline);
  /// Wakes the background worker that an outcome left work for.
  void nudge_workers(model::apply_outcome outcome);
  /// Counts a compliance request and writes the delivery's log line.
  void record_delivery(const model::delivery& meta, model::apply_outcome outcome,
                       const request_context& context);
  http_response readyz() const;
  boost::asio::awaitable<http_response> reconcile_request(http_request request);
  boost::asio::awaitable<http_response> status_request(http_request request);

  const service_settings settings_;
  const crypto::webhook_verifier& verifier_;
  db::delivery_writer& writer_;
  db::readiness_monitor& readiness_;
  telemetry::registry& registry_;
  service_metrics& metrics_;
  delivery_log& deliveries_;
  reconcile::coordinator* reconciler_;
  erasure_worker* eraser_;
  // Reconcile and status requests wait on the database: never on an I/O thread.
  boost::asio::thread_pool blocking_{1};
  telemetry::rate_limiter signature_warnings_{5, std::chrono::seconds(60)};
};

} // namespace shopmirror::ingest
