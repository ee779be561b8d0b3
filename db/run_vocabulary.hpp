#pragma once

// The closed sets of a reconcile run, each with one spelling: the text that
// shopify.reconcile_runs stores, the API answers and the log and metrics
// carry. Where one changes, so must the column's check constraint
// (db/migrations/0003_reconcile.sql, 0006_convergence.sql).

#include <optional>
#include <string_view>

namespace shopmirror::db {

/// Where a run stands.
enum class run_status {
  running,     ///< listing or sweeping now
  succeeded,   ///< listed and swept
  held,        ///< listed; its sweep waits for an operator's confirmation
  failed,      ///< stopped with its reason in error; nothing swept
  interrupted, ///< its session died while it ran
  superseded,  ///< a held run that a newer run of the shop replaced
};

/// How a run lists the shop's products. The modes an operator chooses come
/// before since (parse_listing_mode).
enum class run_mode {
  bulk,      ///< a bulk operation's JSONL
  paginated, ///< products pages
  since,     ///< pages of products updated since a time (no sweep)
};

/// What started a run.
enum class run_trigger {
  schedule, ///< the daily schedule
  api,      ///< POST /reconcile
  command,  ///< shopmirror reconcile
};

std::string_view to_string(run_status status) noexcept;
std::string_view to_string(run_mode mode) noexcept;
std::string_view to_string(run_trigger trigger) noexcept;

std::optional<run_status> parse_run_status(std::string_view text) noexcept;
std::optional<run_mode> parse_run_mode(std::string_view text) noexcept;
std::optional<run_trigger> parse_run_trigger(std::string_view text) noexcept;

/// The modes an operator chooses (configuration, --mode, ?mode=): bulk or
/// paginated. `since` follows from asking for a since time.
std::optional<run_mode> parse_listing_mode(std::string_view text) noexcept;

/// A run that ended without listing: failed or interrupted.
constexpr bool is_failure(run_status status) noexcept {
  return status == run_status::failed || status == run_status::interrupted;
}

} // namespace shopmirror::db
