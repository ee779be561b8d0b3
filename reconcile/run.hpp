#pragma once

#include "db/reconcile_store.hpp"
#include "reconcile/cancel.hpp"
#include "reconcile/credentials.hpp"
#include "reconcile/settings.hpp"

namespace shopmirror::reconcile {

/// Carries out a run that `store` has begun (it holds the shop's lock):
/// lists the catalog as the run's mode says (a bulk operation that does not
/// start falls back to pages), applies it in batches over connections of
/// its own to `database` while the listing streams on, and, once the
/// listing is complete, sweeps and records success. Any failure records the
/// run as failed, sweeping nothing. Returns the run as recorded at its end.
/// Never throws.
db::run_record execute_run(const shop_settings& shop, admin_credentials& credentials,
                           const reconcile_settings& settings, const db::db_settings& database,
                           db::reconcile_store& store, db::run_record run, cancel_token& cancel);

} // namespace shopmirror::reconcile
