#include "cli/command_line.hpp"

#include <array>

namespace shopmirror::cli {

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
  return answer_usage(*spec, words);
}

// The commands with no code of their own to sit beside.

const command_spec version_command{
    .name = "version",
    .usage = "usage: shopmirror version\n"
             "  Prints the version.\n",
};

} // namespace shopmirror::cli
