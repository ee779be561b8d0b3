// `shopmirror check`: everything the service depends on, checked once before
// it is started (or after a change), one line each, so a deployment learns
// what is wrong from one command rather than from the first failed delivery.

#include "cli/commands.hpp"
#include "db/health.hpp"
#include "db/migrate.hpp"
#include "db/migrations.hpp"
#include "reconcile/catalog.hpp"
#include "reconcile/coordinator.hpp"
#include "reconcile/subscriptions.hpp"
#include "telemetry/log.hpp"

#include <iostream>
#include <memory>

namespace shopmirror::cli {

const command_spec check_command{
    .name = "check",
    .usage =
        "usage: shopmirror check\n"
        "  Checks, one line each (ok, FAIL, or skip where nothing is configured to check):\n"
        "  the settings (as serve reads them), that PostgreSQL answers at\n"
        "  SHOPMIRROR_DATABASE_URL, that its schema has every migration this binary knows, and\n"
        "  for each configured shop that its Admin API answers for that shop and (with\n"
        "  SHOPMIRROR_PUBLIC_URL) that its webhook subscriptions are as needed.\n"
        "  Changes nothing. Exit status 0 when every check passes, 1 otherwise.\n",
};

namespace {

/// Prints the checks' lines and remembers whether one failed.
class check_report {
public:
  void ok(const std::string& what) { std::cout << "ok    " << what << std::endl; }
  void fail(const std::string& what) {
    std::cout << "FAIL  " << what << std::endl;
    failed_ = true;
  }
  void skip(const std::string& what) { std::cout << "skip  " << what << std::endl; }
  int exit_status() const { return failed_ ? 1 : 0; }

private:
  bool failed_ = false;
};

std::optional<config> check_settings(check_report& report) {
  try {
    config settings = load_config_from_environment();
    // The report is on stdout; the clients' routine lines would bury it.
    telemetry::set_min_level(telemetry::level::warn);
    settings.require_database();
    settings.require_secrets();
    if (!settings.reconcile.trigger_token.empty()) {
      settings.require_shops();
    }
    report.ok("settings");
    for (const auto& name : settings.unknown_variables) {
      report.fail("setting " + name + " is not one shopmirror knows (a typo?)");
    }
    return settings;
  } catch (const config_error& e) {
    report.fail(std::string("settings: ") + e.what());
    return std::nullopt;
  }
}

void check_schema(check_report& report, const config& settings) {
  int version = 0;
  try {
    version = db::schema_version(settings.database);
  } catch (const std::exception& e) {
    report.fail(std::string("database: ") + e.what());
    return;
  }
  report.ok("database answers");
  try {
    if (db::sessions_are_shared(settings.database)) {
      report.fail("database sessions are shared between connections: a pooler in transaction "
                  "mode (PgBouncer pool_mode=transaction) is in the way; use session mode");
    } else {
      report.ok("each connection has a database session of its own");
    }
  } catch (const std::exception& e) {
    report.fail(std::string("database: ") + e.what());
  }
  const int needed = db::latest_schema_version();
  const std::string at = "schema at version " + std::to_string(version);
  if (version < needed) {
    report.fail(at + ", this binary needs " + std::to_string(needed) +
                ": run shopmirror migrate (serve does with SHOPMIRROR_MIGRATE_ON_START=true)");
  } else if (version > needed) {
    report.ok(at + ", newer than this binary's " + std::to_string(needed));
  } else {
    report.ok(at + ", every migration applied");
  }
}

std::string not_as_needed(const reconcile::subscription_report& subscriptions) {
  std::string text;
  for (const auto& topic : subscriptions.topics) {
    if (topic.state != reconcile::subscription_state::ok) {
      text += (text.empty() ? "" : ", ") + topic.topic + " " +
              std::string(reconcile::to_string(topic.state));
    }
  }
  for (const auto& version : subscriptions.api_versions) {
    text += (text.empty() ? "" : ", ") + std::string("payloads at API version ") + version;
  }
  return text;
}

void check_shops(check_report& report, const config& settings) {
  if (settings.shops.empty()) {
    report.skip("Admin API: no shop configured (SHOPMIRROR_SHOP or SHOPMIRROR_CONFIG)");
    return;
  }
  std::unique_ptr<reconcile::coordinator> coordinator;
  try {
    coordinator = std::make_unique<reconcile::coordinator>(settings.shops, settings.reconcile,
                                                           settings.database);
  } catch (const std::exception& e) {
    report.fail(std::string("Admin API: ") + e.what());
    return;
  }
  reconcile::cancel_token cancel;
  for (const auto& shop : coordinator->shops()) {
    const std::string name = "shop " + shop.domain;
    try {
      reconcile::admin_api api(shop, coordinator->credentials_of(shop), settings.reconcile, cancel);
      reconcile::verify_shop(api, shop.domain);
      report.ok(name + ": the Admin API answers for it");
      if (settings.reconcile.public_url.empty()) {
        report.skip(name + ": webhook subscriptions (no SHOPMIRROR_PUBLIC_URL to compare with)");
        continue;
      }
      // The same comparison as `shopmirror subscriptions check`.
      const auto subscriptions = reconcile::compare_subscriptions(
          reconcile::list_subscriptions(api), settings.reconcile.public_url,
          settings.reconcile.api_version);
      if (subscriptions.all_ok()) {
        report.ok(name + ": webhook subscriptions as needed");
      } else {
        report.fail(name + ": webhook subscriptions: " + not_as_needed(subscriptions) +
                    " (shopmirror subscriptions sync makes them right)");
      }
    } catch (const std::exception& e) {
      report.fail(name + ": " + e.what());
    }
  }
}

} // namespace

int run_check() {
  check_report report;
  const auto settings = check_settings(report);
  if (!settings) {
    return report.exit_status();
  }
  check_schema(report, *settings);
  check_shops(report, *settings);
  return report.exit_status();
}

} // namespace shopmirror::cli
