#include "ingest/erasure_worker.hpp"

#include "telemetry/log.hpp"

namespace shopmirror::ingest {
namespace {

using telemetry::level;
using telemetry::log_event;

/// A batch of an erasure may wait on rows a delivery holds, and rows an app
/// table cascades to: more time than a webhook's statement, bounded still.
db::db_settings for_erasure(db::db_settings database) {
  database.statement_timeout = std::chrono::seconds(60);
  database.lock_timeout = std::chrono::seconds(5);
  database.application_name = "shopmirror erasure";
  return database;
}

// While a reconcile run holds the shop, its erasure waits this long.
constexpr std::chrono::seconds run_in_progress_pause{30};

} // namespace

erasure_worker::erasure_worker(db::db_settings database, db::erasure_settings settings,
                               service_metrics& metrics)
    : database_(for_erasure(std::move(database))), settings_(settings), metrics_(metrics) {
  loop_.start([this] { run(); });
}

erasure_worker::~erasure_worker() {
  stop();
}

void erasure_worker::nudge() {
  loop_.nudge();
}

void erasure_worker::stop() {
  loop_.stop();
}

void erasure_worker::run() {
  db::erasure_store store(database_, settings_);
  while (!loop_.stopping()) {
    while (!loop_.stopping() && erase_next(store)) {
    }
    publish_backlog(store);
    loop_.wait_for(settings_.interval);
  }
}

void erasure_worker::publish_backlog(db::erasure_store& store) {
  const auto backlog = store.backlog();
  if (!backlog.ok()) {
    return; // the next look sets it; the failure is logged where it matters
  }
  metrics_.shop_erasures_pending.with({"due"}).set(static_cast<double>(backlog.value.due));
  metrics_.shop_erasures_pending.with({"failing"}).set(static_cast<double>(backlog.value.failing));
}

bool erasure_worker::erase_next(db::erasure_store& store) {
  const auto claimed = store.claim();
  if (!claimed.ok()) {
    log_event(level::warn, "shop_erasure_unavailable").field("error", claimed.error);
    return false;
  }
  if (!claimed.value) {
    return false;
  }
  const db::shop_redaction& redaction = *claimed.value;

  const auto locked = store.lock_shop(redaction.shop);
  if (locked.ok() && !locked.value) {
    // A reconcile run of the shop is writing (it began before the shop was
    // uninstalled): erase once it has ended.
    log_event(level::info, "shop_erasure_waiting")
        .field("shop", redaction.shop)
        .field("redaction_id", redaction.id)
        .field("reason", "a reconcile run of the shop is in progress");
    store.postpone(redaction, run_in_progress_pause);
    return true;
  }

  std::string error = locked.error;
  bool finished = false;
  while (error.empty() && !finished) {
    if (loop_.stopping()) {
      // Taken up again after a restart, or by another replica at once.
      store.postpone(redaction, std::chrono::seconds(0));
      store.unlock_shop(redaction.shop);
      return false;
    }
    const db::erasure_step step = store.step(redaction);
    error = step.error;
    finished = step.finished;
  }
  if (locked.value) {
    store.unlock_shop(redaction.shop);
  }

  if (!error.empty()) {
    record_failure(store, redaction, error);
    return true;
  }
  report_erased(store, redaction);
  return true;
}

void erasure_worker::record_failure(db::erasure_store& store, const db::shop_redaction& redaction,
                                    const std::string& error) {
  // Recorded in the request, and retried until it succeeds: an erasure
  // Shopify asked for is never given up on.
  const std::string unrecorded = store.record_failure(redaction, error);
  metrics_.shop_erasures.with({"failed"}).inc();
  const int attempt = redaction.attempts + 1;
  log_event(attempt >= 5 ? level::error : level::warn, "shop_erasure_failed")
      .field("shop", redaction.shop)
      .field("redaction_id", redaction.id)
      .field("webhook_id", redaction.webhook_id)
      .field("attempt", static_cast<std::int64_t>(attempt))
      .field("error", error)
      .field("unrecorded", unrecorded);
}

void erasure_worker::report_erased(db::erasure_store& store, const db::shop_redaction& redaction) {
  metrics_.shop_erasures.with({"erased"}).inc();
  const auto record = store.find(redaction.id);
  auto line = log_event(level::info, "shop_erased");
  line.field("shop", redaction.shop)
      .field("redaction_id", redaction.id)
      .field("webhook_id", redaction.webhook_id);
  if (record.ok() && record.value) {
    line.field("requested_at", record.value->requested_at)
        .field("erased_rows", record.value->erased_rows)
        .field("erased", record.value->erased)
        .field("seconds", record.value->seconds)
        .field("failed_attempts", static_cast<std::int64_t>(record.value->attempts));
  }
}

} // namespace shopmirror::ingest
