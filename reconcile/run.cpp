#include "reconcile/run.hpp"

#include "reconcile/admin_api.hpp"
#include "reconcile/barcodes.hpp"
#include "reconcile/catalog.hpp"
#include "telemetry/log.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace shopmirror::reconcile {
namespace {

using telemetry::level;
using telemetry::log_event;

/// Batches of listed products, applied by worker threads, each with a
/// connection of its own, while the listing goes on: parsing and the
/// database's work spread over the cores. Few batches wait, so memory stays
/// flat and a slow database slows the download (through TCP) rather than
/// piling it up. Listed products are distinct, so parallel batches never
/// touch the same rows.
class apply_pipeline {
public:
  apply_pipeline(const db::db_settings& database, const db::run_record& run,
                 const reconcile_settings& settings)
      : run_(run), batch_size_(settings.batch_size), capacity_(settings.apply_connections) {
    for (std::size_t i = 0; i < settings.apply_connections; ++i) {
      workers_.emplace_back([this, database] { consume(database); });
    }
  }

  ~apply_pipeline() { close(); }
  apply_pipeline(const apply_pipeline&) = delete;
  apply_pipeline& operator=(const apply_pipeline&) = delete;

  void add(db::listed_product product, model::timestamp observed) {
    if (current_.products.empty()) {
      current_.observed = observed;
    }
    // A batch is observed at its earliest listing time.
    current_.observed = std::min(current_.observed, observed);
    current_.products.push_back(std::move(product));
    if (current_.products.size() >= batch_size_) {
      push();
    }
  }

  /// Applies what is left, waits for the workers, rethrows a failure, and
  /// returns the drift added up over every batch.
  db::drift finish() {
    if (!current_.products.empty()) {
      push();
    }
    close();
    if (error_) {
      std::rethrow_exception(error_);
    }
    return total_;
  }

private:
  struct batch {
    std::vector<db::listed_product> products;
    model::timestamp observed;
  };

  void push() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return queue_.size() < capacity_ || error_; });
    if (error_) {
      std::rethrow_exception(error_);
    }
    queue_.push_back(std::move(current_));
    current_ = {};
    changed_.notify_all();
  }

  void close() {
    {
      const std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
    for (auto& worker : workers_) {
      if (worker.joinable()) {
        worker.join();
      }
    }
  }

  void consume(const db::db_settings& database) {
    try {
      db::reconcile_store store(database);
      for (;;) {
        batch next;
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [this] { return !queue_.empty() || closed_ || error_; });
          if (queue_.empty() || error_) {
            return;
          }
          next = std::move(queue_.front());
          queue_.pop_front();
          changed_.notify_all();
        }
        const db::drift drift = store.apply(run_, next.products, next.observed);
        const std::lock_guard lock(mutex_);
        total_ += drift;
      }
    } catch (...) {
      const std::lock_guard lock(mutex_);
      if (!error_) {
        error_ = std::current_exception();
      }
      queue_.clear();
      changed_.notify_all();
    }
  }

  const db::run_record& run_;
  std::size_t batch_size_;
  std::size_t capacity_;
  batch current_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<batch> queue_;
  bool closed_ = false;
  std::exception_ptr error_;
  db::drift total_;
  std::vector<std::thread> workers_;
};

void list(admin_api& api, const reconcile_settings& settings, const db::run_record& run,
          cancel_token& cancel, const listing_sink& sink) {
  if (run.mode == db::run_mode::since) {
    list_by_pages(api, settings, run.since, sink);
    return;
  }
  const auto by_pages = [&] { list_by_pages(api, settings, std::nullopt, sink); };
  if (run.mode == db::run_mode::bulk) {
    list_by_bulk_or_pages(
        run, [&] { list_by_bulk_operation(api, settings, cancel, sink); }, by_pages);
    return;
  }
  by_pages();
}

/// Failed products of a listing, recorded in batches through the run's own
/// store (the listing runs on the thread that owns it), and counted.
class failure_log {
public:
  failure_log(db::reconcile_store& store, const db::run_record& run) : store_(store), run_(run) {}

  void add(db::failed_product failed) {
    log_event(level::warn, "reconcile_product_failed")
        .field("shop", run_.shop)
        .field("run_id", run_.id)
        .field("product_id", failed.product_id.value_or(0))
        .field("reason", failed.reason);
    ++counted_.failed;
    if (failed.product_id) {
      ++counted_.listed;
    } else {
      ++counted_.unidentified;
    }
    pending_.push_back(std::move(failed));
    if (pending_.size() >= 100) {
      flush();
    }
  }

  /// Records what is pending and returns the counts.
  db::drift finish() {
    flush();
    return counted_;
  }

private:
  void flush() {
    store_.record_failures(run_, pending_);
    pending_.clear();
  }

  db::reconcile_store& store_;
  const db::run_record& run_;
  std::vector<db::failed_product> pending_;
  db::drift counted_;
};

/// Lists the shop's catalog and applies it as it arrives; returns what the
/// products and the failures counted.
db::drift list_and_apply(admin_api& api, const reconcile_settings& settings,
                         const db::db_settings& database, db::reconcile_store& store,
                         const db::run_record& run, cancel_token& cancel) {
  failure_log failures(store, run);
  apply_pipeline pipeline(database, run, settings);
  // A run whose lock connection died (a failover, a network device
  // dropping it) stops at the next product rather than at its end.
  auto checked_at = std::chrono::steady_clock::now();
  const auto check_lock = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (now - checked_at >= std::chrono::seconds(2)) {
      store.check_lock();
      checked_at = now;
    }
  };
  list(api, settings, run, cancel,
       listing_sink{[&](db::listed_product product, model::timestamp observed) {
                      check_lock();
                      pipeline.add(std::move(product), observed);
                    },
                    [&](db::failed_product failed) {
                      check_lock();
                      failures.add(std::move(failed));
                    }});
  db::drift listed = pipeline.finish();
  listed += failures.finish();
  return listed;
}

void log_finished(const db::run_record& done) {
  log_event(done.status == db::run_status::succeeded ? level::info : level::warn,
            "reconcile_finished")
      .field("shop", done.shop)
      .field("run_id", done.id)
      .field("status", to_string(done.status))
      .field("listed", done.listed)
      .field("inserted", done.inserted)
      .field("updated", done.updated)
      .field("unchanged", done.unchanged)
      .field("revived", done.revived)
      .field("failed", done.failed)
      .field("tombstoned", done.tombstoned)
      .field("held_sweep", done.held_sweep.value_or(0))
      .field("error", done.error.value_or(""))
      .field("dry_run", done.dry_run);
}

} // namespace

db::run_record execute_run(const shop_settings& shop, admin_credentials& credentials,
                           const reconcile_settings& settings, const db::db_settings& database,
                           db::reconcile_store& store, db::run_record run, cancel_token& cancel) {
  log_event(level::info, "reconcile_started")
      .field("shop", run.shop)
      .field("run_id", run.id)
      .field("mode", to_string(run.mode))
      .field("trigger", to_string(run.trigger))
      .field("dry_run", run.dry_run);
  try {
    admin_api api(shop, credentials, settings, cancel);
    // Before anything is applied: a listing of another store would be
    // applied under this one, and its sweep would tombstone this one's.
    verify_shop(api, shop.domain);
    const db::drift listed = list_and_apply(api, settings, database, store, run, cancel);
    // After the products, so that their variants are there; before the
    // run finishes, so still under the shop's lock.
    reconcile_barcodes(api, settings, database, run, cancel);
    cancel.check();
    db::run_record done = store.finish(run, listed);
    log_finished(done);
    return done;
  } catch (const std::exception& e) {
    store.fail(run, e.what());
    log_event(level::error, "reconcile_failed")
        .field("shop", run.shop)
        .field("run_id", run.id)
        .field("error", e.what());
    run.status = db::run_status::failed;
    run.error = e.what();
    return run;
  }
}

} // namespace shopmirror::reconcile
