#pragma once

#include "db/settings.hpp"
#include "db/shop_erasure.hpp"
#include "ingest/service_metrics.hpp"
#include "sync/background_loop.hpp"

namespace shopmirror::ingest {

/// Carries out shop/redact requests in the background of `serve`: each
/// shop's rows are erased from the mirror in batches, each its own short
/// transaction (db::erasure_store), so other shops' deliveries go on being
/// answered meanwhile. Replicas share the requests: a lease on each, and
/// the shop's reconcile lock while it is erased. An attempt that fails (an
/// app table that references the shop's products without ON DELETE CASCADE,
/// the database gone) is recorded in the request, logged and counted, and
/// tried again after a growing pause, until it succeeds. Thread-safe.
class erasure_worker {
public:
  /// Starts the worker's thread. `metrics` outlives the worker.
  erasure_worker(db::db_settings database, db::erasure_settings settings, service_metrics& metrics);
  ~erasure_worker();
  erasure_worker(const erasure_worker&) = delete;
  erasure_worker& operator=(const erasure_worker&) = delete;

  /// Wakes the worker (a shop/redact was just acknowledged).
  void nudge();

  /// Stops after the current batch, leaving an unfinished erasure to be
  /// taken up again (here after a restart, or by another replica), and
  /// waits for the thread.
  void stop();

private:
  void run();
  /// Erases the next due shop, if any; false when none was due.
  bool erase_next(db::erasure_store& store);
  void record_failure(db::erasure_store& store, const db::shop_redaction& redaction,
                      const std::string& error);
  void report_erased(db::erasure_store& store, const db::shop_redaction& redaction);
  void publish_backlog(db::erasure_store& store);

  db::db_settings database_;
  db::erasure_settings settings_;
  service_metrics& metrics_;
  sync::background_loop loop_;
};

} // namespace shopmirror::ingest
