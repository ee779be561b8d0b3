#pragma once

// The words after `shopmirror COMMAND`, read the same way for every command:
// `--help`/`-h` anywhere answers the usage and does nothing else, an option
// the command does not know or a word too many is a mistake (exit status 2,
// the usage on stderr), before any setting is read or the database touched.

#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::cli {

/// What one command accepts. Options are the same for all its subcommands.
struct command_spec {
  std::string_view name;
  std::string_view usage;
  /// Options that stand alone (`--dry-run`).
  std::vector<std::string_view> flags = {};
  /// Options followed by a value (`--shop DOMAIN`).
  std::vector<std::string_view> valued = {};
  /// When not empty, the first word must be one of these.
  std::vector<std::string_view> subcommands = {};
  /// How many other words (after the subcommand, if any) are allowed.
  std::size_t min_operands = 0;
  std::size_t max_operands = 0;
};

constexpr std::size_t any_number = std::numeric_limits<std::size_t>::max();

/// A command's words, read.
struct arguments {
  std::string subcommand;
  std::vector<std::string> operands;
  /// Each option given, with its value ("" for a flag); the last one wins.
  std::map<std::string, std::string, std::less<>> options;

  bool has(std::string_view option) const { return options.find(option) != options.end(); }
  /// The option's value, or `fallback` when it was not given.
  std::string value_or(std::string_view option, std::string fallback) const;
};

/// What reading the words came to: help asked for, a mistake, or arguments.
struct parse_outcome {
  bool help = false;
  /// Empty unless the words are wrong; then it says what is wrong.
  std::string error;
  arguments args;
};

/// Reads `words` (the ones after the command) as `spec` says (pure).
parse_outcome parse_arguments(const command_spec& spec, const std::vector<std::string>& words);

/// The spec of a command, or null when `name` is none of them.
const command_spec* find_command(std::string_view name);

/// Answers `--help` (usage on stdout, 0) and mistakes (message and usage on
/// stderr, 2) for `command`; std::nullopt when the command should run.
/// Commands without a spec run unchecked.
std::optional<int> answer_usage(std::string_view command, const std::vector<std::string>& words);

/// The words of a command that answer_usage() let through.
arguments checked_arguments(const command_spec& spec, const std::vector<std::string>& words);

/// Says what is wrong and shows the usage on stderr; returns 2, the exit
/// status of a mistake on the command line.
int misuse(const command_spec& spec, std::string_view message);

// The commands (each defined beside its code). find_command() lists them:
// a new command is added there too.
extern const command_spec serve_command;
extern const command_spec migrate_command;
extern const command_spec check_command;
extern const command_spec health_command;
extern const command_spec reconcile_command;
extern const command_spec credentials_command;
extern const command_spec subscriptions_command;
extern const command_spec send_command;
extern const command_spec prune_command;
extern const command_spec dead_letters_command;
extern const command_spec status_command;
extern const command_spec version_command;

} // namespace shopmirror::cli
