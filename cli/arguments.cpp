#include "cli/arguments.hpp"

#include <algorithm>
#include <charconv>
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

std::string arguments::required(std::string_view option) const {
  const auto found = options.find(option);
  if (found == options.end()) {
    throw argument_error(std::string(option) + " is required");
  }
  return found->second;
}

std::int64_t arguments::integer_or(std::string_view option, std::int64_t fallback, std::int64_t min,
                                   std::int64_t max) const {
  const auto found = options.find(option);
  if (found == options.end()) {
    return fallback;
  }
  const std::string& text = found->second;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min ||
      value > max) {
    throw argument_error(std::string(option) + " \"" + text + "\" is not a whole number from " +
                         std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

std::vector<std::int64_t> arguments::counts_or(std::string_view option,
                                               std::vector<std::int64_t> fallback,
                                               std::int64_t max) const {
  const auto found = options.find(option);
  if (found == options.end()) {
    return fallback;
  }
  const std::string& text = found->second;
  std::vector<std::int64_t> counts;
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data() + at, text.data() + comma, value);
    if (comma == at || ec != std::errc{} || end != text.data() + comma || value < 1 ||
        value > max) {
      throw argument_error(std::string(option) + " \"" + text +
                           "\" is not whole numbers from 1 to " + std::to_string(max) +
                           " separated by commas");
    }
    counts.push_back(value);
    at = comma + 1;
  }
  return counts;
}

double arguments::number_or(std::string_view option, double fallback, double min) const {
  const auto found = options.find(option);
  if (found == options.end()) {
    return fallback;
  }
  const std::string& text = found->second;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !(value >= min)) {
    throw argument_error(std::string(option) + " \"" + text + "\" is not a number of at least " +
                         std::to_string(min));
  }
  return value;
}

parse_outcome parse_arguments(const command_spec& spec, const std::vector<std::string>& words) {
  parse_outcome out;
  // The first mistake is the one reported, but --help anywhere still wins.
  const auto mistake = [&](std::initializer_list<std::string_view> parts) {
    if (out.error.empty()) {
      out.error.append(spec.program);
      if (!spec.name.empty()) {
        out.error.append(" ").append(spec.name);
      }
      out.error.append(": ");
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

std::optional<int> answer_usage(const command_spec& spec, const std::vector<std::string>& words) {
  const parse_outcome outcome = parse_arguments(spec, words);
  if (outcome.help) {
    std::cout << spec.usage;
    return 0;
  }
  if (!outcome.error.empty()) {
    return misuse(spec, outcome.error);
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

int run_program(const command_spec& spec, int argc, char** argv,
                const std::function<int(const arguments&)>& body) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  if (const auto answered = answer_usage(spec, words)) {
    return *answered;
  }
  try {
    return body(checked_arguments(spec, words));
  } catch (const argument_error& e) {
    return misuse(spec, std::string(spec.program) + ": " + e.what());
  }
}

} // namespace shopmirror::cli
