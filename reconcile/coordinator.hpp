#pragma once

#include "db/reconcile_store.hpp"
#include "db/settings.hpp"
#include "reconcile/cancel.hpp"
#include "reconcile/credentials.hpp"
#include "reconcile/metrics.hpp"
#include "reconcile/settings.hpp"
#include "sync/background_loop.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace shopmirror::reconcile {

/// What a trigger came to.
struct trigger_result {
  std::optional<std::int64_t> run_id; ///< the new run, or the one in progress
  bool started = false;               ///< false: a run was already in progress
  std::string error;                  ///< set when neither (unknown shop, database down)
  /// The app is uninstalled from the shop (app/uninstalled): no run until a
  /// webhook shows it installed again. `error` says so.
  bool uninstalled = false;
  /// `error` will pass (the database unreachable or too slow, the shop's
  /// lock held elsewhere, the process stopping): the same trigger may start
  /// a run later. False for a failure that would recur.
  bool retry_later = false;
};

/// Starts and tracks the reconcile runs of this process: on demand (the
/// endpoint, the command line), on the daily schedule, and the refresh of
/// products whose webhook was a stub. Runs are single-flight per shop across
/// every replica (the database lock). Thread-safe.
class coordinator {
public:
  coordinator(std::vector<shop_settings> shops, reconcile_settings settings,
              db::db_settings database, reconcile_metrics* metrics = nullptr);
  ~coordinator();
  coordinator(const coordinator&) = delete;
  coordinator& operator=(const coordinator&) = delete;

  /// Begins a run in the background, or finds the one in progress. Blocks
  /// only while the run is recorded (a few round trips to the database), or
  /// while another trigger of this process records the shop's run (at most
  /// `begin_wait`: that run is then the answer). Refused for a shop the app
  /// is uninstalled from (db::shop_installed).
  trigger_result trigger(db::run_request request);

  /// How long a trigger waits for another trigger of this process to record
  /// the same shop's run before it answers "retry later".
  static constexpr std::chrono::seconds begin_wait{5};

  /// Runs to the end in the calling thread (the command line). A run in
  /// progress elsewhere is reported as a failure to start, and so is a shop
  /// the app is uninstalled from.
  db::run_record run(const db::run_request& request);

  /// Carries out the sweep of a held run (an operator's confirmation). The
  /// run as recorded; on refusal, status "failed" with the reason in error.
  db::run_record confirm_sweep(std::int64_t run_id);

  /// Starts the daily schedule and the refresh worker (serve). Neither
  /// reaches a shop the app is uninstalled from.
  void start_background();

  /// Wakes the refresh worker (a stub payload was just recorded).
  void nudge_refresh();

  /// Stops every run (each ends failed: "shopmirror is stopping", sweeping
  /// nothing) and the background threads, and waits for them.
  void stop();

  const std::vector<shop_settings>& shops() const noexcept { return shops_; }
  /// The shop's credentials (one per shop, shared by its runs and refreshes).
  admin_credentials& credentials_of(const shop_settings& shop) const;
  const shop_settings* find_shop(std::string_view domain) const;
  const reconcile_settings& settings() const noexcept { return settings_; }

private:
  /// A trigger's work once it is the shop's only one in this process: takes
  /// the shop's lock and records the run, or finds the run holding it.
  trigger_result begin_run(const shop_settings& shop, const db::run_request& request);
  void record_end(const db::run_record& run);
  /// Sets the gauges that show a run (the last success, its drift, a held
  /// sweep); counts nothing.
  void show_run(const db::run_record& run);
  void schedule_loop();
  void refresh_loop();
  void refresh_once(db::reconcile_store& store);
  /// The refresh backlog, each shop's token expiry and its latest runs,
  /// on /metrics.
  void publish_gauges(db::reconcile_store& store);
  void subscription_loop();
  /// Lists and compares the shop's webhook subscriptions: logged and on
  /// /metrics. Never throws but `cancelled`.
  void check_subscriptions(const shop_settings& shop);

  std::vector<shop_settings> shops_;
  std::map<std::string, std::shared_ptr<admin_credentials>> credentials_;
  reconcile_settings settings_;
  db::db_settings database_;
  reconcile_metrics* metrics_;
  cancel_token cancel_;

  std::mutex mutex_;
  bool stopping_ = false; ///< under mutex_: no run begins once set
  struct run_thread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  /// Joins the run threads that have ended. Call with mutex_ held.
  void reap_finished_runs();
  std::list<run_thread> runs_;
  /// A trigger recording a shop's run, and what came of it once `done`.
  struct run_begin {
    bool done = false;
    std::optional<std::int64_t> run_id;
  };
  /// The shops a trigger of this process is recording a run of, under
  /// mutex_; `begun_` is signalled as each is done.
  std::map<std::string, std::shared_ptr<run_begin>> beginning_;
  std::condition_variable begun_;
  sync::background_loop schedule_;
  sync::background_loop refresh_;
  sync::background_loop subscriptions_;
};

/// The next daily run after `now` (unix seconds): the day's `minute` after
/// midnight UTC, today if still ahead, else tomorrow.
std::int64_t next_daily_run(std::int64_t now, int minute);

} // namespace shopmirror::reconcile
