#pragma once

// Words on a command line, read the same way by every program of the
// project (the `shopmirror` commands and the benchmarks): `--help`/`-h`
// anywhere answers the usage and does nothing else; an option the program
// does not know, a missing value or a word too many is a mistake (exit
// status 2, what is wrong and the usage on stderr), before anything runs.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
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
  /// The program a message names: `shopmirror NAME: ...`, or the program
  /// alone when `name` is empty (a benchmark's own executable).
  std::string_view program = "shopmirror";
};

constexpr std::size_t any_number = std::numeric_limits<std::size_t>::max();

/// A value on the command line that is not what its option takes; the
/// message names the option.
class argument_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A command's words, read.
struct arguments {
  std::string subcommand;
  std::vector<std::string> operands;
  /// Each option given, with its value ("" for a flag); the last one wins.
  std::map<std::string, std::string, std::less<>> options;

  bool has(std::string_view option) const { return options.find(option) != options.end(); }
  /// The option's value, or `fallback` when it was not given.
  std::string value_or(std::string_view option, std::string fallback) const;
  /// The option's value; argument_error when it was not given.
  std::string required(std::string_view option) const;
  /// The option's value as a whole number from `min` to `max`, or `fallback`
  /// when it was not given; argument_error when it is not one.
  std::int64_t integer_or(std::string_view option, std::int64_t fallback,
                          std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                          std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  /// The option's value as whole numbers from 1 to `max` separated by
  /// commas (`100,1000,2048`), or `fallback` when it was not given;
  /// argument_error when it is not such a list.
  std::vector<std::int64_t> counts_or(std::string_view option, std::vector<std::int64_t> fallback,
                                      std::int64_t max) const;
  /// The option's value as a number (`0.5`, `2e3`) of at least `min`, or
  /// `fallback` when it was not given; argument_error when it is not one.
  double number_or(std::string_view option, double fallback,
                   double min = std::numeric_limits<double>::lowest()) const;
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

/// Answers `--help` (usage on stdout, 0) and mistakes (message and usage on
/// stderr, 2); std::nullopt when the command should run.
std::optional<int> answer_usage(const command_spec& spec, const std::vector<std::string>& words);

/// The words of a command that answer_usage() let through.
arguments checked_arguments(const command_spec& spec, const std::vector<std::string>& words);

/// Says what is wrong and shows the usage on stderr; returns 2, the exit
/// status of a mistake on the command line.
int misuse(const command_spec& spec, std::string_view message);

/// A program's `main` in one call: reads argv as `spec` says, answers help
/// and mistakes, then runs `body`; an argument_error it throws is a mistake
/// too (exit status 2, with the usage).
int run_program(const command_spec& spec, int argc, char** argv,
                const std::function<int(const arguments&)>& body);

} // namespace shopmirror::cli
