#pragma once

// The `shopmirror` commands' specs (cli/arguments.hpp reads the words), so
// that help and mistakes are answered before any setting is read or the
// database touched.

#include "cli/arguments.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::cli {

/// The spec of a command, or null when `name` is none of them.
const command_spec* find_command(std::string_view name);

/// answer_usage() for the command named `command`; std::nullopt also for a
/// command without a spec, which runs unchecked.
std::optional<int> answer_usage(std::string_view command, const std::vector<std::string>& words);

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
