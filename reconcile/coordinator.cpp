#include "reconcile/coordinator.hpp"

#include "db/errors.hpp"
#include "db/installations.hpp"
#include "reconcile/admin_api.hpp"
#include "reconcile/catalog.hpp"
#include "reconcile/run.hpp"
#include "reconcile/subscriptions.hpp"
#include "telemetry/log.hpp"

#include <array>
#include <random>

namespace shopmirror::reconcile {
namespace {

using telemetry::level;
using telemetry::log_event;

/// Reconcile statements handle whole batches and sweep whole shops: they get
/// more time than a webhook's, and wait longer for a row a webhook holds.
db::db_settings for_reconcile(db::db_settings database) {
  database.statement_timeout = std::chrono::minutes(10);
  database.lock_timeout = std::chrono::seconds(30);
  database.application_name = "shopmirror reconcile";
  return database;
}

double unix_seconds(model::timestamp t) {
  return static_cast<double>(t.micros_since_epoch) / 1e6;
}

/// Why a shop may not be reconciled now, or nothing. Its Admin API access
/// went with the app: a run would only fail, and after a shop/redact it
/// would fill the erased mirror again.
std::optional<std::string> uninstalled_reason(const db::db_settings& database,
                                              const std::string& shop) {
  const db::shop_installation installation = db::read_installation(database, shop);
  if (installation.installed) {
    return std::nullopt;
  }
  return "shop " + shop + " is uninstalled (app/uninstalled observed at " +
         installation.uninstalled_at.value_or("?") +
         "): no reconcile until a product webhook shows the app installed again";
}

// How one refresh request ended: the label of shopmirror_refreshes_total.
enum class refresh_outcome { applied, gone, failed };

std::string_view to_string(refresh_outcome outcome) noexcept {
  constexpr std::array<std::string_view, 3> names{"applied", "gone", "failed"};
  return names.at(static_cast<std::size_t>(outcome));
}

} // namespace

std::int64_t next_daily_run(std::int64_t now, int minute) {
  constexpr std::int64_t day = 24 * 3600;
  const std::int64_t midnight = now - ((now % day) + day) % day;
  const std::int64_t today = midnight + static_cast<std::int64_t>(minute) * 60;
  return today > now ? today : today + day;
}

coordinator::coordinator(std::vector<shop_settings> shops, reconcile_settings settings,
                         db::db_settings database, reconcile_metrics* metrics)
    : shops_(std::move(shops)), settings_(std::move(settings)),
      database_(for_reconcile(std::move(database))), metrics_(metrics) {
  for (const auto& shop : shops_) {
    credentials_[shop.domain] = make_credentials(shop, settings_, database_);
  }
}

admin_credentials& coordinator::credentials_of(const shop_settings& shop) const {
  return *credentials_.at(shop.domain);
}

coordinator::~coordinator() {
  stop();
}

const shop_settings* coordinator::find_shop(std::string_view domain) const {
  for (const auto& shop : shops_) {
    if (shop.domain == domain) {
      return &shop;
    }
  }
  return nullptr;
}

trigger_result coordinator::trigger(db::run_request request) {
  const shop_settings* shop = find_shop(request.shop);
  if (shop == nullptr) {
    return {std::nullopt, false, "no shop " + request.shop + " is configured"};
  }
  // One trigger at a time records a shop's run in this process; one that
  // comes meanwhile answers with that run once it is recorded.
  auto mine = std::make_shared<run_begin>();
  {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + begin_wait;
    for (auto it = beginning_.find(request.shop); it != beginning_.end();
         it = beginning_.find(request.shop)) {
      const std::shared_ptr<run_begin> theirs = it->second;
      if (!begun_.wait_until(lock, deadline, [&] { return theirs->done; })) {
        return {std::nullopt, false, "a run of " + request.shop + " is still being recorded", false,
                true};
      }
      if (theirs->run_id) {
        return {theirs->run_id, false, {}};
      }
      // It recorded nothing (the database failed it): this one tries anew.
    }
    beginning_.emplace(request.shop, mine);
  }
  trigger_result result = begin_run(*shop, request);
  {
    const std::lock_guard lock(mutex_);
    mine->done = true;
    mine->run_id = result.run_id;
    beginning_.erase(request.shop);
  }
  begun_.notify_all();
  return result;
}

trigger_result coordinator::begin_run(const shop_settings& shop, const db::run_request& request) {
  try {
    if (auto reason = uninstalled_reason(database_, request.shop)) {
      return {std::nullopt, false, std::move(*reason), true};
    }
    auto store = std::make_unique<db::reconcile_store>(database_);
    std::optional<db::run_record> run = store->try_begin(request);
    if (!run) {
      // Another session holds the shop's lock: a run (its row is written
      // right after the lock is taken), a sweep being confirmed or the
      // shop's erasure. One look, no waiting: a run of this process was
      // waited for above, and another replica's row shows on a retry.
      if (const auto id = db::running_run(database_, request.shop)) {
        return {id, false, {}};
      }
      return {std::nullopt, false,
              "the reconcile lock of " + request.shop +
                  " is held elsewhere (a run starting, a sweep being confirmed, or an erasure)",
              false, true};
    }
    const std::lock_guard lock(mutex_);
    if (stopping_) {
      store->fail(*run, "shopmirror is stopping");
      return {std::nullopt, false, "shopmirror is stopping", false, true};
    }
    if (metrics_ != nullptr) {
      metrics_->running.with({request.shop}).set(1);
    }
    reap_finished_runs();
    const std::int64_t id = run->id;
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread thread(
        [this, shop = &shop, done, store = std::move(store), started = std::move(*run)]() mutable {
          record_end(execute_run(*shop, credentials_of(*shop), settings_, database_, *store,
                                 std::move(started), cancel_));
          store.reset();
          done->store(true);
        });
    runs_.push_back({std::move(thread), std::move(done)});
    return {id, true, {}};
  } catch (const db::database_error& e) {
    return {std::nullopt, false, e.what(), false, e.retry_later()};
  } catch (const std::exception& e) {
    return {std::nullopt, false, e.what()};
  }
}

db::run_record coordinator::run(const db::run_request& request) {
  const shop_settings* shop = find_shop(request.shop);
  db::run_record out;
  out.shop = request.shop;
  out.status = db::run_status::failed;
  if (shop == nullptr) {
    out.error = "no shop " + request.shop + " is configured";
    return out;
  }
  try {
    if (auto reason = uninstalled_reason(database_, request.shop)) {
      out.error = std::move(*reason);
      return out;
    }
    db::reconcile_store store(database_);
    std::optional<db::run_record> run = store.try_begin(request);
    if (!run) {
      out.id = db::running_run(database_, request.shop).value_or(0);
      out.error = "a run of " + request.shop + " is already in progress";
      return out;
    }
    out = execute_run(*shop, credentials_of(*shop), settings_, database_, store, std::move(*run),
                      cancel_);
    record_end(out);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

db::run_record coordinator::confirm_sweep(std::int64_t run_id) {
  try {
    db::reconcile_store store(database_);
    db::run_record run = store.confirm_sweep(run_id);
    log_event(level::info, "reconcile_sweep_confirmed")
        .field("shop", run.shop)
        .field("run_id", run.id)
        .field("tombstoned", run.tombstoned);
    record_end(run);
    return run;
  } catch (const std::exception& e) {
    log_event(level::error, "reconcile_sweep_not_confirmed")
        .field("run_id", run_id)
        .field("error", e.what());
    db::run_record out;
    out.id = run_id;
    out.status = db::run_status::failed;
    out.error = e.what();
    return out;
  }
}

void coordinator::record_end(const db::run_record& run) {
  if (metrics_ == nullptr) {
    return;
  }
  metrics_->running.with({run.shop}).set(0);
  metrics_->runs.with({run.shop, to_string(run.status)}).inc();
  show_run(run);
}

void coordinator::show_run(const db::run_record& run) {
  if (run.dry_run) {
    return;
  }
  if (run.status == db::run_status::succeeded || run.status == db::run_status::held) {
    // What the shop's latest run held back: 0 once a run sweeps.
    metrics_->held_sweep.with({run.shop}).set(static_cast<double>(run.held_sweep.value_or(0)));
  }
  if (run.status == db::run_status::succeeded) {
    metrics_->last_success.with({run.shop})
        .set(unix_seconds(run.finished_at.value_or(model::now())));
    metrics_->last_drift.with({run.shop, "inserted"}).set(static_cast<double>(run.inserted));
    metrics_->last_drift.with({run.shop, "updated"}).set(static_cast<double>(run.updated));
    metrics_->last_drift.with({run.shop, "unchanged"}).set(static_cast<double>(run.unchanged));
    metrics_->last_drift.with({run.shop, "tombstoned"}).set(static_cast<double>(run.tombstoned));
    metrics_->last_drift.with({run.shop, "revived"}).set(static_cast<double>(run.revived));
    metrics_->last_drift.with({run.shop, "failed"}).set(static_cast<double>(run.failed));
  }
}

void coordinator::start_background() {
  if (settings_.daily_at_minute) {
    schedule_.start([this] { schedule_loop(); });
  }
  refresh_.start([this] { refresh_loop(); });
  if (!settings_.public_url.empty()) {
    subscriptions_.start([this] { subscription_loop(); });
  }
}

void coordinator::nudge_refresh() {
  refresh_.nudge();
}

void coordinator::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cancel_.cancel();
  for (sync::background_loop* loop : {&schedule_, &refresh_, &subscriptions_}) {
    loop->request_stop();
  }
  for (sync::background_loop* loop : {&schedule_, &refresh_, &subscriptions_}) {
    loop->join();
  }
  std::list<run_thread> runs;
  {
    const std::lock_guard lock(mutex_);
    runs.swap(runs_);
  }
  for (auto& r : runs) {
    r.thread.join();
  }
}

void coordinator::reap_finished_runs() {
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
}

void coordinator::schedule_loop() {
  std::mt19937 random{std::random_device{}()};
  while (!schedule_.stopping()) {
    const auto now = std::chrono::system_clock::now();
    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::uniform_int_distribution<std::int64_t> jitter(0, settings_.jitter.count());
    const std::int64_t at = next_daily_run(now_s, *settings_.daily_at_minute) + jitter(random);
    log_event(level::info, "reconcile_scheduled").field("at_unix", at);
    const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(at));
    if (schedule_.wait_until(when)) {
      return;
    }
    for (const auto& shop : shops_) {
      db::run_request request;
      request.shop = shop.domain;
      request.trigger = db::run_trigger::schedule;
      request.mode = settings_.mode;
      request.max_sweep = settings_.max_sweep;
      const trigger_result result = trigger(request);
      // An uninstalled shop is skipped as expected, not an error.
      log_event(result.error.empty() || result.uninstalled ? level::info : level::error,
                "reconcile_triggered")
          .field("shop", shop.domain)
          .field("trigger", to_string(request.trigger))
          .field("run_id", result.run_id.value_or(0))
          .field("started", result.started)
          .field("error", result.error);
    }
  }
}

void coordinator::refresh_loop() {
  db::reconcile_store store(database_);
  while (!refresh_.stopping()) {
    try {
      refresh_once(store);
      publish_gauges(store);
    } catch (const cancelled&) {
      return;
    } catch (const std::exception& e) {
      log_event(level::warn, "refresh_unavailable").field("error", e.what());
    }
    refresh_.wait_for(settings_.refresh_interval);
  }
}

void coordinator::subscription_loop() {
  while (!subscriptions_.stopping()) {
    for (const auto& shop : shops_) {
      try {
        check_subscriptions(shop);
      } catch (const cancelled&) {
        return;
      }
    }
    subscriptions_.wait_for(settings_.subscription_check_interval);
  }
}

void coordinator::check_subscriptions(const shop_settings& shop) {
  const double now = unix_seconds(model::now());
  try {
    admin_api api(shop, credentials_of(shop), settings_, cancel_);
    const subscription_report report =
        compare_subscriptions(list_subscriptions(api), settings_.public_url, settings_.api_version);
    for (const auto& topic : report.topics) {
      // A missing subscription is the early warning that Shopify removed
      // one after failed deliveries.
      log_event(topic.state == subscription_state::ok ? level::info : level::warn,
                "webhook_subscription")
          .field("shop", shop.domain)
          .field("topic", topic.topic)
          .field("state", to_string(topic.state));
      if (metrics_ != nullptr) {
        for (const auto state : {subscription_state::ok, subscription_state::missing,
                                 subscription_state::wrong, subscription_state::duplicate}) {
          metrics_->subscriptions.with({shop.domain, topic.topic, std::string(to_string(state))})
              .set(state == topic.state ? 1 : 0);
        }
      }
    }
    if (metrics_ != nullptr) {
      metrics_->subscriptions_checked.with({shop.domain, report.all_ok() ? "ok" : "attention"})
          .set(now);
    }
  } catch (const cancelled&) {
    throw;
  } catch (const std::exception& e) {
    log_event(level::warn, "webhook_subscriptions_unchecked")
        .field("shop", shop.domain)
        .field("error", e.what());
    if (metrics_ != nullptr) {
      metrics_->subscriptions_checked.with({shop.domain, "failed"}).set(now);
    }
  }
}

void coordinator::publish_gauges(db::reconcile_store& store) {
  if (metrics_ == nullptr) {
    return;
  }
  for (const auto& shop : shops_) {
    if (const auto expires = credentials_of(shop).expires_at()) {
      metrics_->credentials_expiry.with({shop.domain, std::string(to_string(shop.auth))})
          .set(unix_seconds(*expires));
    }
  }
  // The runs as the database has them, so that every replica shows the
  // same freshness and drift, runs other replicas made included, and a
  // restarted replica does not start blind.
  for (const auto& runs : store.latest_runs_by_shop()) {
    if (find_shop(runs.shop) == nullptr) {
      continue; // a shop no longer configured here
    }
    if (runs.succeeded) {
      show_run(*runs.succeeded);
    }
    if (runs.settled) {
      show_run(*runs.settled);
    }
  }
  const auto backlogs = store.refresh_backlogs();
  for (const auto& shop : shops_) {
    db::refresh_backlog backlog;
    for (const auto& b : backlogs) {
      if (b.shop == shop.domain) {
        backlog = b;
      }
    }
    metrics_->refresh_requests.with({shop.domain, "due"}).set(static_cast<double>(backlog.due));
    metrics_->refresh_requests.with({shop.domain, "failing"})
        .set(static_cast<double>(backlog.failing));
    metrics_->refresh_requests.with({shop.domain, "paused"})
        .set(static_cast<double>(backlog.paused));
  }
}

void coordinator::refresh_once(db::reconcile_store& store) {
  for (;;) {
    const auto requests = store.claim_refreshes(20);
    if (requests.empty()) {
      return;
    }
    for (const auto& request : requests) {
      cancel_.check();
      const shop_settings* shop = find_shop(request.shop);
      refresh_outcome outcome = refresh_outcome::failed;
      try {
        if (shop == nullptr) {
          throw admin_api_error("no Admin API credentials for " + request.shop);
        }
        admin_api api(*shop, credentials_of(*shop), settings_, cancel_);
        const model::timestamp observed = model::now();
        if (auto product = fetch_product(api, request.product_id)) {
          store.apply_single(request.shop, *product, observed);
          outcome = refresh_outcome::applied;
        } else {
          // Deleted since: its products/delete webhook tombstones it.
          outcome = refresh_outcome::gone;
        }
        store.complete_refresh(request);
      } catch (const cancelled&) {
        throw;
      } catch (const std::exception& e) {
        store.retry_refresh(request, e.what());
        // Past a few attempts (minutes of back-off), a person should look.
        log_event(request.attempts >= 5 ? level::error : level::warn, "refresh_failed")
            .field("shop", request.shop)
            .field("product_id", request.product_id)
            .field("attempt", static_cast<std::int64_t>(request.attempts))
            .field("error", e.what());
      }
      if (metrics_ != nullptr) {
        metrics_->refreshes.with({request.shop, to_string(outcome)}).inc();
      }
      log_event(outcome == refresh_outcome::failed ? level::warn : level::info, "refresh")
          .field("shop", request.shop)
          .field("product_id", request.product_id)
          .field("outcome", to_string(outcome));
    }
  }
}

} // namespace shopmirror::reconcile
