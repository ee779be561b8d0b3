// The maintenance commands: one-shot work against the database.

#include "cli/commands.hpp"
#include "db/delivery_store.hpp"
#include "db/maintenance.hpp"
#include "db/migrate.hpp"
#include "model/webhook_payload.hpp"
#include "telemetry/log.hpp"

#include <algorithm>
#include <charconv>
#include <iostream>

namespace shopmirror::cli {

using telemetry::level;
using telemetry::log_event;

const command_spec migrate_command{
    .name = "migrate",
    .usage = "usage: shopmirror migrate\n"
             "  Brings the database schema (SHOPMIRROR_DATABASE_URL) up to date, then exits.\n",
};

const command_spec prune_command{
    .name = "prune",
    .usage = "usage: shopmirror prune\n"
             "  Deletes delivery-log rows older than SHOPMIRROR_DELIVERY_RETENTION, then exits.\n",
};

int run_migrate(const config& settings) {
  settings.require_database();
  const db::migrate_result result = db::migrate(settings.database);
  log_event(level::info, "migrated")
      .field("from_version", result.from_version)
      .field("to_version", result.to_version);
  return 0;
}

int run_prune(const config& settings) {
  settings.require_database();
  const auto deleted = db::prune_deliveries(settings.database, settings.delivery_retention);
  if (!deleted) {
    std::cout << "another process is pruning the delivery log now; nothing done\n";
    return 0;
  }
  std::cout << "pruned " << *deleted << " delivery log rows older than "
            << settings.delivery_retention.count() << " s\n";
  return 0;
}

const command_spec dead_letters_command{
    .name = "dead-letters",
    .usage =
        "usage: shopmirror dead-letters list [--all] [--limit N]\n"
        "       shopmirror dead-letters replay [ID...]   (no ID: every one not replayed yet)\n",
    .flags = {"--all"},
    .valued = {"--limit"},
    .subcommands = {"list", "replay"},
    .max_operands = any_number,
};

namespace {

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\t') {
      c = ' ';
    }
  }
  return text;
}

// Runs a dead letter through today's mapping and the one apply path. The
// replay is a delivery of its own ("replay:<id>:<webhook id>"), so running
// it twice is a duplicate, and its version is the original one, so it never
// overwrites a newer state.
struct replay_result {
  model::apply_outcome outcome = model::apply_outcome::failed;
  std::string text; ///< the outcome, and why it is still a dead letter
};

replay_result replay(db::delivery_store& store, const db::dead_letter_record& record,
                     const config& settings) {
  const bool can_fetch =
      std::any_of(settings.shops.begin(), settings.shops.end(),
                  [&](const auto& shop) { return shop.domain == record.meta.shop_domain; });
  model::delivery_action action =
      model::action_for(model::parse_topic(record.meta.topic), record.meta.shop_domain, record.body,
                        can_fetch ? model::stub_fetch::possible : model::stub_fetch::impossible);
  if (const auto* still = std::get_if<model::dead_letter>(&action)) {
    return {model::apply_outcome::dead_letter, "dead_letter: " + still->reason};
  }
  model::delivery meta = record.meta;
  meta.webhook_id = "replay:" + std::to_string(record.id) + ":" + record.meta.webhook_id;
  const model::delivery_item item{std::move(meta), std::move(action)};
  const auto outcome = store.apply(std::span(&item, 1)).front();
  return {outcome, std::string(model::to_string(outcome))};
}

} // namespace

int run_dead_letters(const config& settings, const std::vector<std::string>& words) {
  const arguments args = checked_arguments(dead_letters_command, words);
  if (args.subcommand == "list") {
    if (!args.operands.empty()) {
      return misuse(dead_letters_command, "shopmirror dead-letters list: takes no ID");
    }
    std::size_t limit = 100;
    const std::string text = args.value_or("--limit", "100");
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc{} || end != text.data() + text.size()) {
      return misuse(dead_letters_command,
                    "shopmirror dead-letters: --limit \"" + text + "\" is not a number");
    }
    settings.require_database();
    std::cout << "id\treceived_at\tshop\ttopic\twebhook_id\treason\treplayed\n";
    for (const auto& r : db::load_dead_letters(settings.database, args.has("--all"), {}, limit)) {
      std::cout << r.id << '\t' << model::format_rfc3339(r.meta.received_at) << '\t'
                << r.meta.shop_domain << '\t' << r.meta.topic << '\t' << r.meta.webhook_id << '\t'
                << one_line(r.reason) << '\t'
                << (r.replayed_at ? *r.replayed_at + " " + one_line(r.replay_outcome.value_or(""))
                                  : "-")
                << '\n';
    }
    return 0;
  }
  if (args.has("--all") || args.has("--limit")) {
    return misuse(dead_letters_command,
                  "shopmirror dead-letters replay: --all and --limit are list's options");
  }
  std::vector<std::int64_t> ids;
  for (const std::string& text : args.operands) {
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || end != text.data() + text.size()) {
      return misuse(dead_letters_command, "not a dead letter id: " + text);
    }
    ids.push_back(id);
  }
  settings.require_database();
  db::delivery_store store(settings.database);
  int failures = 0;
  for (const auto& record : db::load_dead_letters(settings.database, false, ids, 100000)) {
    const auto [outcome_kind, outcome] = replay(store, record, settings);
    const bool durable = model::is_durable(outcome_kind);
    if (durable) {
      db::mark_replayed(settings.database, record.id, outcome);
    }
    failures += outcome_kind == model::apply_outcome::dead_letter || !durable ? 1 : 0;
    std::cout << record.id << '\t' << one_line(outcome) << '\n';
    log_event(level::info, "dead_letter_replayed")
        .field("id", record.id)
        .field("shop", record.meta.shop_domain)
        .field("webhook_id", record.meta.webhook_id)
        .field("outcome", outcome);
  }
  return failures == 0 ? 0 : 1;
}

} // namespace shopmirror::cli
