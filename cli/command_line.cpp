#include "cli/command_line.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <iostream>

namespace shopmirror::cli {
namespace {

bool is_help(std::string_view word) {
  return word == "--help" || word == "-h";
}

bool listed(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string joined(const std::vector<std::string_view>& names) {
  std::string text;
  for (const auto name : names) {
    text += (text.empty() ? "" : "|") + std::string(name);
  }
  return text;
}

} // namespace

std::string arguments::value_or(std::string_view option, std::string fallback) const {
  const auto found = options.find(option);
  if (found == options.end()) {
    return fallback;
  }
  return found->second;
}

parse_outcome parse_arguments(const command_spec& spec, const std::vector<std::string>& words) {
  parse_outcome out;
  // The first mistake is the one reported, but --help anywhere still wins.
  const auto mistake = [&](std::initializer_list<std::string_view> parts) {
    if (out.error.empty()) {
      out.error.append("shopmirror ").append(spec.name).append(": ");
      for (const std::string_view part : parts) {
        out.error.append(part);
      }
    }
  };
  bool options_end = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (!options_end && is_help(word)) {
      out.help = true;
    } else if (!options_end && word == "--") {
      options_end = true;
    } else if (!options_end && word.size() > 1 && word[0] == '-') {
      const auto equals = word.find('=');
      const std::string name = word.substr(0, equals);
      if (listed(spec.flags, name) && equals == std::string::npos) {
        out.args.options[name] = "";
      } else if (listed(spec.valued, name)) {
        if (equals != std::string::npos) {
          out.args.options[name] = word.substr(equals + 1);
        } else if (i + 1 < words.size() && !is_help(words[i + 1])) {
          out.args.options[name] = words[++i];
        } else {
          mistake({name, " needs a value"});
        }
      } else {
        mistake({"unknown option \"", word, "\""});
      }
    } else if (!spec.subcommands.empty() && out.args.subcommand.empty()) {
      if (listed(spec.subcommands, word)) {
        out.args.subcommand = word;
      } else {
        mistake({"unknown subcommand \"", word, "\" (one of ", joined(spec.subcommands), ")"});
      }
    } else if (out.args.operands.size() < spec.max_operands) {
      out.args.operands.push_back(word);
    } else {
      mistake({"unexpected argument \"", word, "\""});
    }
  }
  if (!spec.subcommands.empty() && out.args.subcommand.empty()) {
    mistake({"needs a subcommand: ", joined(spec.subcommands)});
  }
  if (out.args.operands.size() < spec.min_operands) {
    mistake({"missing argument"});
  }
  return out;
}

const command_spec* find_command(std::string_view name) {
  static const std::array<const command_spec*, 12> all = {
      &serve_command,     &migrate_command,      &check_command,         &health_command,
      &reconcile_command, &credentials_command,  &subscriptions_command, &send_command,
      &prune_command,     &dead_letters_command, &status_command,        &version_command,
  };
  for (const command_spec* spec : all) {
    if (spec->name == name) {
      return spec;
    }
  }
  return nullptr;
}

std::optional<int> answer_usage(std::string_view command, const std::vector<std::string>& words) {
  const command_spec* spec = find_command(command);
  if (spec == nullptr) {
    return std::nullopt;
  }
  const parse_outcome outcome = parse_arguments(*spec, words);
  if (outcome.help) {
    std::cout << spec->usage;
    return 0;
  }
  if (!outcome.error.empty()) {
    return misuse(*spec, outcome.error);
  }
  return std::nullopt;
}

arguments checked_arguments(const command_spec& spec, const std::vector<std::string>& words) {
  return parse_arguments(spec, words).args;
}

int misuse(const command_spec& spec, std::string_view message) {
  std::cerr << message << "\n" << spec.usage;
  return 2;
}

// The commands with no code of their own to sit beside.

const command_spec version_command{
    .name = "version",
    .usage = "usage: shopmirror version\n"
             "  Prints the version.\n",
};

} // namespace shopmirror::cli
