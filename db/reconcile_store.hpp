#pragma once

#include "db/product_columns.hpp"
#include "db/run_vocabulary.hpp"
#include "db/settings.hpp"
#include "model/product_state.hpp"
#include "model/timestamp.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace shopmirror::db {

class pg_session;

/// What a run is asked to do.
struct run_request {
  std::string shop;
  run_trigger trigger = run_trigger::command;
  run_mode mode = run_mode::bulk;
  std::optional<model::timestamp> since;
  bool dry_run = false;
  /// The largest share of the shop's live products the sweep may tombstone
  /// without an operator's confirmation (SHOPMIRROR_RECONCILE_MAX_SWEEP).
  double max_sweep = 0.1;
};

/// One row of shopify.reconcile_runs.
struct run_record {
  std::int64_t id = 0;
  std::string shop;
  run_trigger trigger = run_trigger::command;
  run_mode mode = run_mode::bulk;
  std::optional<model::timestamp> since;
  bool dry_run = false;
  model::timestamp started_at;
  std::optional<model::timestamp> finished_at;
  run_status status = run_status::running;
  std::optional<std::string> error;
  std::int64_t listed = 0;
  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t unchanged = 0;
  std::int64_t tombstoned = 0;
  std::int64_t revived = 0;
  std::int64_t failed = 0;
  double max_sweep = 0.1;
  /// A held run: how many products its sweep would tombstone.
  std::optional<std::int64_t> held_sweep;
  std::optional<model::timestamp> sweep_confirmed_at;
};

/// The drift of listed products: of one batch, or added up over a run.
/// `failed` products could not be mapped or applied (recorded with their
/// reason; counted as listed and as seen, so never swept); `unidentified`
/// of them could not even be told apart, so the run cannot trust its
/// listing to sweep.
struct drift {
  std::int64_t listed = 0;
  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t unchanged = 0;
  std::int64_t revived = 0;
  std::int64_t failed = 0;
  std::int64_t unidentified = 0;

  drift& operator+=(const drift& other) {
    listed += other.listed;
    inserted += other.inserted;
    updated += other.updated;
    unchanged += other.unchanged;
    revived += other.revived;
    failed += other.failed;
    unidentified += other.unidentified;
    return *this;
  }
};

/// A held sweep the database will not confirm, and why (the message is for
/// the operator); nothing was changed.
class sweep_refused : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A product as the Admin API listed it, with the document it came from.
struct listed_product {
  model::product_state state;
  std::string source;
};

/// A listed object that could not be mapped or applied, and why. No id:
/// it could not even be told which product it is.
struct failed_product {
  std::optional<std::int64_t> product_id;
  std::string reason;
};

/// A product whose webhook carried only its id, to fetch from the Admin API.
struct refresh_request {
  std::string shop;
  std::int64_t product_id = 0;
  std::string requested_at; ///< as the database holds it, to complete exactly this request
  int attempts = 0;
};

/// Refresh requests of one shop waiting in the database.
struct refresh_backlog {
  std::string shop;
  std::int64_t due = 0;     ///< not failed yet
  std::int64_t failing = 0; ///< failed at least once (last_error set)
  std::int64_t paused = 0;  ///< the app is uninstalled from the shop: not fetched
};

/// A refresh request that has failed at least once.
struct latest_runs {
  std::string shop;
  std::optional<run_record> succeeded;
  std::optional<run_record> settled;
};

struct failing_refresh {
  std::string shop;
  std::int64_t product_id = 0;
  std::string requested_at; ///< RFC 3339
  int attempts = 0;
  std::string last_error;
};

/// The reconcile's side of the database, over one connection of its own.
/// The shop's reconcile lock is a session advisory lock on that connection,
/// so one run per shop proceeds at a time across every replica, and a
/// replica that dies mid-run releases it with its connection. Not
/// thread-safe. Throws db::database_error (db/errors.hpp: what it was
/// doing, the SQLSTATE, and whether to retry later) on database trouble.
class reconcile_store {
public:
  explicit reconcile_store(db_settings settings);
  ~reconcile_store();
  reconcile_store(const reconcile_store&) = delete;
  reconcile_store& operator=(const reconcile_store&) = delete;

  /// Takes the shop's reconcile lock and records a new run. Runs of the
  /// shop left `running` by a session that died are marked interrupted.
  /// Returns nullopt when another session holds the lock.
  std::optional<run_record> try_begin(const run_request& request);

  /// Applies a batch of listed products to the run (the content rule,
  /// stamped as seen) in one transaction and returns its drift. Any store
  /// may apply a run's batches, in parallel; only the one that began it
  /// holds the lock. A product the database refuses is isolated (the batch
  /// is split until it stands alone), recorded as failed and counted; the
  /// others apply. Throws only when the database itself fails.
  drift apply(const run_record& run, std::span<const listed_product> products,
              model::timestamp observed);

  /// Records products the listing could not map: failed, and seen.
  void record_failures(const run_record& run, std::span<const failed_product> failures);

  /// Throws std::runtime_error when the connection that took the shop's
  /// lock in try_begin is gone (another replica may hold the shop now).
  void check_lock();

  /// The listing completed: sweeps what it did not list unless the sweep
  /// guard holds it (then the run ends `held`), records the counts, and
  /// releases the lock. Returns the run as recorded.
  run_record finish(const run_record& run, const drift& listed);

  /// An operator's confirmation of a held run's sweep: takes the shop's
  /// lock, sweeps as the run would have, and records it `succeeded`.
  /// Throws sweep_refused saying why when the run cannot be confirmed (no
  /// such run, not held, its listing lost, or the shop's lock taken by a
  /// run), and database_error when the database failed.
  run_record confirm_sweep(std::int64_t run_id);

  /// The run failed: records why, sweeps nothing, releases the lock.
  void fail(const run_record& run, const std::string& error) noexcept;

  /// Applies one product fetched outside a run (a refresh request).
  void apply_single(const std::string& shop, const listed_product& product,
                    model::timestamp observed);

  /// Up to `limit` refresh requests that are due, leased for a while so
  /// that other replicas skip them. Those of a shop the app is uninstalled
  /// from are not due (shopify.shop_installed): they wait for a reinstall.
  std::vector<refresh_request> claim_refreshes(std::size_t limit);
  /// Done: removed unless a newer request for the product arrived meanwhile.
  void complete_refresh(const refresh_request& request);
  /// Failed: tried again after a back-off that grows with the attempts.
  void retry_refresh(const refresh_request& request, const std::string& error);
  /// What waits, per shop that has anything waiting.
  std::vector<refresh_backlog> refresh_backlogs();
  /// Per shop, its latest run that was not a dry run and ended `succeeded`
  /// (`succeeded`) and its latest that ended either way (`settled`, which
  /// says whether a sweep is held now).
  std::vector<latest_runs> latest_runs_by_shop();

private:
  input_types types_; // of the session's connection
  std::unique_ptr<pg_session> session_;
  int lock_holder_ = 0; ///< the backend that took the lock (pg_backend_pid)
};

// The reads below each open a connection of their own, with the session
// limits of every store connection (statement and lock timeouts), and throw
// db::database_error like the store.

/// The running run of a shop, if any (for a trigger that found the lock taken).
std::optional<std::int64_t> running_run(const db_settings& settings, const std::string& shop);

/// Runs, newest first.
std::vector<run_record> list_runs(const db_settings& settings, std::size_t limit);

/// Refresh requests that have failed at least once, most tried first.
std::vector<failing_refresh> failing_refreshes(const db_settings& settings, std::size_t limit);

/// What a run could not map or apply, at most `limit` of them.
std::vector<failed_product> run_failures(const db_settings& settings, std::int64_t run_id,
                                         std::size_t limit);

std::optional<run_record> find_run(const db_settings& settings, std::int64_t id);

} // namespace shopmirror::db
