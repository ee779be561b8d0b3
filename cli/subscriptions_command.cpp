// `shopmirror subscriptions check|sync`: the webhook subscriptions each
// shop needs, listed, compared and (sync) made right through the Admin API.

#include "cli/commands.hpp"
#include "reconcile/coordinator.hpp"
#include "reconcile/subscriptions.hpp"

#include <iostream>

namespace shopmirror::cli {

const command_spec subscriptions_command{
    .name = "subscriptions",
    .usage =
        "usage: shopmirror subscriptions check|sync [--shop DOMAIN] [--dry-run]\n"
        "  check  lists each shop's webhook subscriptions and compares them with what the mirror\n"
        "         needs: products/create, products/update and products/delete, JSON, whole\n"
        "         payloads, at SHOPMIRROR_PUBLIC_URL. Exit status 0 when all are as needed.\n"
        "  sync   creates what is missing and fixes what is not as needed (and, with --dry-run,\n"
        "         only says what it would do). Subscriptions for other addresses are never\n"
        "         touched. Subscriptions made in shopify.app.toml are not listed by the Admin\n"
        "         API, so check reports them missing: use one or the other (README).\n",
    .flags = {"--dry-run"},
    .valued = {"--shop"},
    .subcommands = {"check", "sync"},
};

namespace {

void print_report(const std::string& shop, const reconcile::subscription_report& report,
                  const std::string& api_version) {
  for (const auto& topic : report.topics) {
    std::cout << shop << '\t' << topic.topic << '\t' << reconcile::to_string(topic.state);
    for (const auto& s : topic.ours) {
      std::cout << '\t' << s.id;
    }
    std::cout << '\n';
  }
  for (const auto& other : report.others) {
    std::cout << shop << '\t' << other.topic << "\tother address (left alone)\t" << other.id << '\t'
              << other.uri << '\n';
  }
  for (const auto& version : report.api_versions) {
    std::cout << shop << "\tpayloads at API version " << version << ", not " << api_version
              << " (the app's webhooks API version: change it in the app)\n";
  }
}

// Checks (and with `sync`, makes right) one shop's subscriptions; true when
// they are as the mirror needs.
bool subscriptions_of(const reconcile::shop_settings& shop, reconcile::coordinator& coordinator,
                      const reconcile::reconcile_settings& settings, const arguments& args) {
  const bool dry_run = args.has("--dry-run");
  reconcile::cancel_token cancel;
  reconcile::admin_api api(shop, coordinator.credentials_of(shop), settings, cancel);
  const auto compare = [&] {
    return reconcile::compare_subscriptions(reconcile::list_subscriptions(api), settings.public_url,
                                            settings.api_version);
  };
  auto report = compare();
  if (args.subcommand == "sync") {
    const auto done = reconcile::sync_subscriptions(api, report, settings.public_url, dry_run);
    for (const auto& action : done.actions) {
      std::cout << shop.domain << '\t' << (dry_run ? "would " : "") << action << '\n';
    }
    if (!dry_run) {
      report = compare();
    }
  }
  print_report(shop.domain, report, settings.api_version);
  return report.all_ok();
}

} // namespace

int run_subscriptions(const config& settings, const std::vector<std::string>& words) {
  const arguments args = checked_arguments(subscriptions_command, words);
  const std::string only_shop = args.value_or("--shop", "");
  settings.require_database();
  settings.require_shops();
  if (settings.reconcile.public_url.empty()) {
    throw config_error("shopmirror subscriptions needs SHOPMIRROR_PUBLIC_URL (where Shopify "
                       "delivers webhooks, e.g. https://mirror.example.com/webhooks/shopify)");
  }
  reconcile::coordinator coordinator(settings.shops, settings.reconcile, settings.database);
  if (!only_shop.empty() && coordinator.find_shop(only_shop) == nullptr) {
    throw config_error("shopmirror subscriptions: --shop " + only_shop + " is not configured");
  }
  bool all_ok = true;
  for (const auto& shop : coordinator.shops()) {
    if (!only_shop.empty() && shop.domain != only_shop) {
      continue;
    }
    try {
      all_ok = subscriptions_of(shop, coordinator, settings.reconcile, args) && all_ok;
    } catch (const std::exception& e) {
      std::cout << shop.domain << "\terror\t" << e.what() << '\n';
      all_ok = false;
    }
  }
  return all_ok ? 0 : 1;
}

} // namespace shopmirror::cli
