#include "reconcile/metrics.hpp"

namespace shopmirror::reconcile {

reconcile_metrics::reconcile_metrics(telemetry::registry& registry)
    : runs(registry.add_counter("shopmirror_reconcile_runs_total",
                                "Reconcile runs this process ended, by shop and status "
                                "(succeeded, held, failed).",
                                {"shop", "status"})),
      last_success(registry.add_gauge("shopmirror_reconcile_last_success_timestamp_seconds",
                                      "When the last successful reconcile run of the shop "
                                      "ended, by any replica (read from the database).",
                                      {"shop"})),
      last_drift(registry.add_gauge("shopmirror_reconcile_last_drift",
                                    "What the last successful run repaired: products "
                                    "inserted, updated, revived and tombstoned, those "
                                    "unchanged, and those it could not read or apply "
                                    "(failed); read from the database.",
                                    {"shop", "kind"})),
      held_sweep(registry.add_gauge("shopmirror_reconcile_held_sweep",
                                    "Products the shop's latest run would have tombstoned "
                                    "but held for an operator's confirmation (0: none held).",
                                    {"shop"})),
      running(registry.add_gauge("shopmirror_reconcile_running",
                                 "1 while this process runs a reconcile of the shop.", {"shop"})),
      refreshes(registry.add_counter("shopmirror_refreshes_total",
                                     "Products fetched from the Admin API for stub "
                                     "payloads, by outcome (applied, gone, failed).",
                                     {"shop", "outcome"})),
      refresh_requests(registry.add_gauge("shopmirror_refresh_requests",
                                          "Refresh requests waiting in the database, by shop "
                                          "and state (due: not tried yet; failing: tried and "
                                          "failed at least once; paused: the app is "
                                          "uninstalled from the shop).",
                                          {"shop", "state"})),
      subscriptions(registry.add_gauge("shopmirror_webhook_subscription_state",
                                       "1 for the state each needed webhook subscription is in "
                                       "(ok, missing, wrong: not JSON, trimmed or filtered; "
                                       "duplicate: more than one at our address), 0 for the "
                                       "others; from the last check.",
                                       {"shop", "topic", "state"})),
      subscriptions_checked(registry.add_gauge(
          "shopmirror_webhook_subscriptions_checked_timestamp_seconds",
          "When the webhook subscriptions of the shop were last checked, by outcome (ok: all as "
          "needed; attention: not; failed: the check itself failed).",
          {"shop", "outcome"})),
      credentials_expiry(registry.add_gauge(
          "shopmirror_admin_credentials_expiry_timestamp_seconds",
          "When the Admin API token this process holds for the shop expires (renewed ahead of "
          "it); absent for a static token.",
          {"shop", "kind"})) {}

} // namespace shopmirror::reconcile
