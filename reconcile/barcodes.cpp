#include "reconcile/barcodes.hpp"

#include "db/barcode_store.hpp"
#include "reconcile/catalog.hpp"
#include "telemetry/log.hpp"

#include <vector>

namespace shopmirror::reconcile {
namespace {

using telemetry::level;
using telemetry::log_event;

/// Listed barcodes, written a batch at a time: one statement per batch,
/// observed at the earliest listing time in it.
class barcode_batches {
public:
  barcode_batches(const db::db_settings& database, const db::run_record& run,
                  std::size_t batch_size)
      : store_(database), run_(run), batch_size_(batch_size) {}

  void add(model::variant_barcodes variant, model::timestamp observed) {
    observed_ = pending_.empty() ? observed : std::min(observed_, observed);
    pending_.push_back(std::move(variant));
    if (pending_.size() >= batch_size_) {
      flush();
    }
  }

  void failed(const std::string& reason) {
    ++failed_;
    log_event(level::warn, "reconcile_barcodes_variant_failed")
        .field("shop", run_.shop)
        .field("run_id", run_.id)
        .field("reason", reason);
  }

  db::barcodes_written finish() {
    flush();
    return written_;
  }

  std::int64_t failures() const noexcept { return failed_; }

private:
  void flush() {
    written_ += store_.put(run_.shop, observed_, pending_);
    pending_.clear();
  }

  db::barcode_store store_;
  const db::run_record& run_;
  std::size_t batch_size_;
  std::vector<model::variant_barcodes> pending_;
  model::timestamp observed_;
  db::barcodes_written written_;
  std::int64_t failed_ = 0;
};

void list(admin_api& api, const reconcile_settings& settings, const db::run_record& run,
          cancel_token& cancel, const barcodes_sink& sink) {
  const auto by_pages = [&] {
    list_barcodes_by_pages(api, run.mode == db::run_mode::since ? run.since : std::nullopt, sink);
  };
  if (run.mode == db::run_mode::bulk) {
    list_by_bulk_or_pages(
        run, [&] { list_barcodes_by_bulk_operation(api, settings, cancel, sink); }, by_pages);
    return;
  }
  by_pages();
}

} // namespace

bool has_barcodes(std::string_view api_version) noexcept {
  // Versions are YYYY-MM, so text order is time order.
  return api_version == "unstable" || (api_version.size() == 7 && api_version >= "2026-10");
}

void reconcile_barcodes(admin_api& api, const reconcile_settings& settings,
                        const db::db_settings& database, const db::run_record& run,
                        cancel_token& cancel) {
  if (run.dry_run || !has_barcodes(settings.api_version)) {
    return;
  }
  try {
    barcode_batches batches(database, run, settings.batch_size);
    list(api, settings, run, cancel,
         barcodes_sink{[&](model::variant_barcodes variant, model::timestamp observed) {
                         batches.add(std::move(variant), observed);
                       },
                       [&](const std::string& reason) { batches.failed(reason); }});
    const db::barcodes_written written = batches.finish();
    log_event(batches.failures() == 0 ? level::info : level::warn, "reconcile_barcodes_finished")
        .field("shop", run.shop)
        .field("run_id", run.id)
        .field("listed", written.listed)
        .field("written", written.written)
        .field("unmatched", written.unmatched)
        .field("failed", batches.failures());
  } catch (const cancelled&) {
    throw;
  } catch (const std::exception& e) {
    log_event(level::warn, "reconcile_barcodes_failed")
        .field("shop", run.shop)
        .field("run_id", run.id)
        .field("error", e.what());
  }
}

} // namespace shopmirror::reconcile
