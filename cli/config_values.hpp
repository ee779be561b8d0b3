#pragma once

// Internal to cli/: reading one setting's value, with a config_error that
// names the variable when the value is wrong.

#include "cli/config.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::cli {

std::string trim(std::string_view text);

/// An integer within [low, high]; `fallback` when unset.
std::uint64_t integer(const env_lookup& lookup, const std::string& name, std::uint64_t fallback,
                      std::uint64_t low, std::uint64_t high);

std::chrono::milliseconds millis(const env_lookup& lookup, const std::string& name,
                                 std::chrono::milliseconds fallback, std::uint64_t low,
                                 std::uint64_t high);

/// A duration: a whole number with a unit, s, m, h or d ("7d", "36h").
std::chrono::seconds duration(const env_lookup& lookup, const std::string& name,
                              std::chrono::seconds fallback, std::chrono::seconds low);

bool boolean(const env_lookup& lookup, const std::string& name, bool fallback);

/// A share from 0 to 1, written as a percentage ("10%") or a fraction
/// ("0.1"); `name` names it in the error.
double parse_share(const std::string& name, const std::string& value);

/// The contents of the file a `*_FILE` setting names (`variable`, for the
/// error). A relative path is taken inside $CREDENTIALS_DIRECTORY when
/// that is set: systemd's LoadCredential= puts secrets there, readable by
/// the service's dynamic user alone.
std::string read_file(const std::string& variable, const std::string& path);
/// read_file, trimmed; an empty file is an error.
std::string read_secret_file(const std::string& variable, const std::string& path);

/// Splits on `separator`, trimming items and dropping empty ones and those
/// starting with '#'.
std::vector<std::string> split_list(const std::string& text, char separator);

} // namespace shopmirror::cli
