// `shopmirror status [--shop DOMAIN] [--json]`: every shop's health as the
// database records it, the same document GET /status answers.

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "ingest/status.hpp"

#include <algorithm>
#include <iostream>
#include <optional>

namespace shopmirror::cli {

const command_spec status_command{
    .name = "status",
    .usage =
        "usage: shopmirror status [--shop DOMAIN] [--json]\n"
        "  Each shop's health, read from the database (so every replica shows the same):\n"
        "  webhooks of the last hour by outcome and the last one's time, the latest reconcile\n"
        "  runs (a held sweep is marked), dead letters and refresh requests waiting, and the\n"
        "  stored Admin API credentials. A table, or with --json the document GET /status\n"
        "  answers. Exit status 0 when nothing needs attention, 1 when something does, 3 when\n"
        "  the database cannot be read.\n",
    .flags = {"--json"},
    .valued = {"--shop"},
};

int run_status(const config& settings, const std::vector<std::string>& words) {
  const arguments args = checked_arguments(status_command, words);
  const bool json = args.has("--json");
  std::optional<std::string> only_shop;
  if (args.has("--shop")) {
    only_shop = args.value_or("--shop", "");
  }
  settings.require_database();
  std::vector<std::string> configured;
  for (const auto& shop : settings.shops) {
    configured.push_back(shop.domain);
  }
  const db::status_reading reading = db::read_status(settings.database, configured, only_shop);
  if (reading.failure != db::status_failure::none) {
    std::cerr << "shopmirror status: the database cannot be read: " << reading.error << "\n";
    return 3;
  }
  std::cout << (json ? ingest::status_json(reading.report) + "\n"
                     : ingest::status_table(reading.report));
  const bool healthy = std::all_of(reading.report.shops.begin(), reading.report.shops.end(),
                                   [](const db::shop_status& s) { return s.attention().empty(); });
  return healthy ? 0 : 1;
}

} // namespace shopmirror::cli
