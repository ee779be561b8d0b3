// shopmirror: a read-only mirror of a Shopify store's products in PostgreSQL.

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "db/errors.hpp"
#include "telemetry/log.hpp"

#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace cli = shopmirror::cli;
namespace db = shopmirror::db;
namespace telemetry = shopmirror::telemetry;

constexpr const char* usage =
    "usage: shopmirror COMMAND [options]\n"
    "  serve      receive Shopify product webhooks and apply them to PostgreSQL\n"
    "  migrate    bring the database schema up to date, then exit\n"
    "  check      check the settings, the database, its schema and each shop's Admin API\n"
    "             and webhook subscriptions, one line each\n"
    "  health     [--url URL]  exit 0 if the running service is ready (a container check)\n"
    "  reconcile  [--since TIME] [--dry-run] [--mode bulk|paginated] [--shop DOMAIN]\n"
    "             repair the mirror from the Admin API now, then exit\n"
    "  credentials import --shop DOMAIN | status | keygen --out FILE | jwk --key FILE\n"
    "             Admin API credentials that renew themselves (see credentials --help)\n"
    "  subscriptions check | sync [--shop DOMAIN] [--dry-run]\n"
    "             the webhook subscriptions the mirror needs, compared or made right\n"
    "  status     [--shop DOMAIN] [--json]\n"
    "             each shop's health from the database: webhooks, reconcile runs, backlogs\n"
    "  send       sign a payload file and post it like Shopify (see send --help)\n"
    "  prune      delete delivery-log rows older than SHOPMIRROR_DELIVERY_RETENTION\n"
    "  dead-letters list [--all] | replay [ID...]\n"
    "             show stored dead letters, or run them through the apply path again\n"
    "  version    print the version\n"
    "Each command answers --help with its own usage.\n"
    "Settings come from SHOPMIRROR_* environment variables (see deploy/env.example).\n";

shopmirror::telemetry::level parse_level(const std::string& name) {
  using shopmirror::telemetry::level;
  if (name == "debug") {
    return level::debug;
  }
  if (name == "warn") {
    return level::warn;
  }
  if (name == "error") {
    return level::error;
  }
  return level::info;
}

// The commands that read the configuration first.
using configured_command = int (*)(const cli::config&, const std::vector<std::string>&);

const std::map<std::string_view, configured_command>& configured_commands() {
  static const std::map<std::string_view, configured_command> commands = {
      {"serve", [](const cli::config& c, const auto&) { return cli::run_serve(c); }},
      {"migrate", [](const cli::config& c, const auto&) { return cli::run_migrate(c); }},
      {"prune", [](const cli::config& c, const auto&) { return cli::run_prune(c); }},
      {"dead-letters", &cli::run_dead_letters},
      {"reconcile", &cli::run_reconcile},
      {"subscriptions", &cli::run_subscriptions},
      {"credentials", &cli::run_credentials},
      {"status", &cli::run_status},
      {"send", &cli::run_send},
  };
  return commands;
}

int run_configured(const std::string& command, const std::vector<std::string>& rest) {
  const auto found = configured_commands().find(command);
  if (found == configured_commands().end()) {
    std::cerr << "shopmirror: unknown command \"" << command << "\"\n" << usage;
    return 2;
  }
  try {
    const cli::config settings = cli::load_config_from_environment();
    telemetry::set_min_level(parse_level(settings.log_level));
    return found->second(settings, rest);
  } catch (const cli::config_error& e) {
    telemetry::log_event(telemetry::level::error, "config_invalid").field("error", e.what());
    return 2;
  } catch (const db::database_error& e) {
    // Named apart: an unavailable database is worth another try later,
    // any other database failure needs a person.
    telemetry::log_event(telemetry::level::error,
                         e.retry_later() ? "database_unavailable" : "database_failed")
        .field("error", e.what())
        .field("sqlstate", e.sqlstate())
        .field("failure", db::to_string(e.kind()));
    return 1;
  } catch (const std::exception& e) {
    telemetry::log_event(telemetry::level::error, "fatal").field("error", e.what());
    return 1;
  }
}

} // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  // Help and mistakes are answered before any setting is read.
  if (const auto answered = cli::answer_usage(command, rest)) {
    return *answered;
  }
  if (command == "version" || command == "--version") {
    std::cout << "shopmirror " << SHOPMIRROR_VERSION << "\n";
    return 0;
  }
  if (command == "health") {
    return cli::run_health(rest);
  }
  if (command == "check") {
    return cli::run_check();
  }
  return run_configured(command, rest);
}
