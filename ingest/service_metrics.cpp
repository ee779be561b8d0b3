#include "ingest/service_metrics.hpp"

namespace shopmirror::ingest {

service_metrics::service_metrics(telemetry::registry& r)
    : deliveries(r.add_counter("shopmirror_webhook_deliveries_total",
                               "Signed webhook deliveries by shop, topic and outcome "
                               "(applied, stale, duplicate, ignored, dead_letter, "
                               "refresh_requested, retry_later, failed).",
                               {"shop", "topic", "outcome"})),
      dead_letters(r.add_counter("shopmirror_webhook_dead_letters_total",
                                 "Signed deliveries kept as dead letters, by shop and kind "
                                 "(malformed; not_a_delete: a product state under "
                                 "products/delete; unfetchable_stub: a stub for a shop without "
                                 "Admin API access; refused: by the database).",
                                 {"shop", "kind"})),
      signature_failures(r.add_counter("shopmirror_webhook_signature_failures_total",
                                       "Webhooks refused with 401, by reason (missing, "
                                       "malformed, mismatch).",
                                       {"reason"})),
      api_version_mismatches(
          r.add_counter("shopmirror_webhook_api_version_mismatches_total",
                        "Deliveries serialized with an API version other than the pinned one.",
                        {"shop", "api_version"})),
      http_requests(r.add_counter("shopmirror_http_requests_total",
                                  "HTTP requests answered, by route and status.",
                                  {"route", "status"})),
      connections_refused(r.add_counter("shopmirror_http_connections_refused_total",
                                        "Connections closed at once because the cap was "
                                        "reached.")),
      request_seconds(r.add_histogram("shopmirror_http_request_duration_seconds",
                                      "From the first byte of a request to its answer.",
                                      {"route"})),
      db_commit_seconds(r.add_histogram("shopmirror_db_commit_duration_seconds",
                                        "Time to apply and commit one batch of deliveries.", {})),
      db_batch_size(r.add_histogram("shopmirror_db_batch_size",
                                    "Deliveries per committed batch (group commit).", {},
                                    {1, 2, 4, 8, 16, 32, 64, 128, 256})),
      db_writers(r.add_gauge("shopmirror_db_writers",
                             "Database writer connections: total, connected, busy.", {"state"})),
      db_queue_depth(
          r.add_gauge("shopmirror_db_queue_depth", "Deliveries waiting for a database writer.")),
      http_connections(r.add_gauge("shopmirror_http_connections", "Open HTTP connections.")),
      http_in_flight(r.add_gauge("shopmirror_http_requests_in_flight", "Requests being handled.")),
      ready(r.add_gauge("shopmirror_ready",
                        "1 when the database is reachable and its schema current.")),
      compliance_requests(
          r.add_counter("shopmirror_compliance_requests_total",
                        "Signed deliveries of Shopify's compliance topics (customers/data_request, "
                        "customers/redact, shop/redact) and app/uninstalled, by topic and outcome "
                        "(recorded, redaction_requested, uninstalled, duplicate, dead_letter).",
                        {"topic", "outcome"})),
      shop_erasures(r.add_counter("shopmirror_shop_erasures_total",
                                  "Shop erasures (shop/redact) this process carried out, by "
                                  "outcome: erased (finished), failed (an attempt that "
                                  "stopped on an error; it is retried).",
                                  {"outcome"})),
      shop_erasures_pending(r.add_gauge("shopmirror_shop_erasures_pending",
                                        "Shop erasures not finished, by state (due; failing: "
                                        "an attempt failed, see shopify.shop_redactions."
                                        "last_error), as this process last looked.",
                                        {"state"})) {}

} // namespace shopmirror::ingest
