#include "cli/commands.hpp"
#include "cli/config_values.hpp"
#include "db/migrate.hpp"
#include "ingest/reconcile_api.hpp"
#include "reconcile/coordinator.hpp"
#include "telemetry/log.hpp"

#include <charconv>
#include <iostream>

namespace shopmirror::cli {

const command_spec reconcile_command{
    .name = "reconcile",
    .usage =
        "usage: shopmirror reconcile [--since TIME] [--dry-run] [--mode bulk|paginated] "
        "[--shop DOMAIN] [--max-sweep SHARE]\n"
        "       shopmirror reconcile --confirm-sweep RUN_ID\n"
        "  Lists the catalog of each configured shop from the Admin API and repairs the mirror:\n"
        "  missing products and products whose content differs are written, tombstoned products\n"
        "  Shopify lists are revived, products Shopify no longer has are tombstoned. --since TIME\n"
        "  (RFC 3339) lists only products updated since then and tombstones nothing. --dry-run\n"
        "  reports the drift and writes nothing to the mirror.\n"
        "  A sweep that would tombstone more than SHOPMIRROR_RECONCILE_MAX_SWEEP of a shop's live\n"
        "  products (default 10%), or anything after an empty listing, is held: the run ends\n"
        "  \"held\" and tombstones nothing. --confirm-sweep RUN_ID carries out a held run's "
        "sweep;\n"
        "  --max-sweep SHARE (0.5, 50%) allows more for this run.\n"
        "  Prints each run as a JSON line; exits 0 if every run succeeded.\n",
    .flags = {"--dry-run"},
    .valued = {"--since", "--mode", "--shop", "--max-sweep", "--confirm-sweep"},
};

namespace {

std::int64_t run_id_of(const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id <= 0) {
    throw config_error("shopmirror reconcile: --confirm-sweep \"" + text + "\" is not a run id");
  }
  return id;
}

// The run the options ask for, from the configured mode and sweep limit.
db::run_request request_of(const config& settings, const arguments& args) {
  db::run_request base;
  base.trigger = db::run_trigger::command;
  base.mode = settings.reconcile.mode;
  base.max_sweep = settings.reconcile.max_sweep;
  base.dry_run = args.has("--dry-run");
  if (args.has("--mode")) {
    const auto chosen = db::parse_listing_mode(args.value_or("--mode", ""));
    if (!chosen) {
      throw config_error("shopmirror reconcile: --mode is bulk or paginated");
    }
    base.mode = *chosen;
  }
  if (args.has("--since")) {
    const std::string text = args.value_or("--since", "");
    base.since = model::parse_rfc3339(text);
    if (!base.since) {
      throw config_error("shopmirror reconcile: --since \"" + text +
                         "\" is not an RFC 3339 time such as 2026-11-28T03:00:00Z");
    }
    base.mode = db::run_mode::since;
  }
  if (args.has("--max-sweep")) {
    base.max_sweep =
        parse_share("shopmirror reconcile --max-sweep", args.value_or("--max-sweep", ""));
  }
  return base;
}

// One run per configured shop (or the one --shop names), one JSON line each.
int run_each_shop(reconcile::coordinator& coordinator, const db::run_request& base,
                  const std::string& only_shop) {
  if (!only_shop.empty() && coordinator.find_shop(only_shop) == nullptr) {
    throw config_error("shopmirror reconcile: --shop " + only_shop + " is not configured");
  }
  // Interrupted (Ctrl-C), the process dies with its connection, which
  // releases the shop's lock; the run never swept, and the next run of the
  // shop marks it interrupted.
  bool all_succeeded = true;
  for (const auto& shop : coordinator.shops()) {
    if (!only_shop.empty() && shop.domain != only_shop) {
      continue;
    }
    db::run_request request = base;
    request.shop = shop.domain;
    const db::run_record run = coordinator.run(request);
    std::cout << ingest::run_json(run) << std::endl;
    all_succeeded = all_succeeded && run.status == db::run_status::succeeded;
  }
  return all_succeeded ? 0 : 1;
}

} // namespace

int run_reconcile(const config& settings, const std::vector<std::string>& words) {
  const arguments args = checked_arguments(reconcile_command, words);
  const db::run_request base = request_of(settings, args);
  std::optional<std::int64_t> confirm;
  if (args.has("--confirm-sweep")) {
    confirm = run_id_of(args.value_or("--confirm-sweep", ""));
  }
  settings.require_database();
  settings.require_shops();
  if (settings.migrate_on_start) {
    db::migrate(settings.database);
  }
  reconcile::coordinator coordinator(settings.shops, settings.reconcile, settings.database);
  if (confirm) {
    const db::run_record run = coordinator.confirm_sweep(*confirm);
    std::cout << ingest::run_json(run) << std::endl;
    return run.status == db::run_status::succeeded ? 0 : 1;
  }
  return run_each_shop(coordinator, base, args.value_or("--shop", ""));
}

} // namespace shopmirror::cli
