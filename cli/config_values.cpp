#include "cli/config_values.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace shopmirror::cli {

std::string trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) {
    return {};
  }
  return std::string(text.substr(first, text.find_last_not_of(blanks) - first + 1));
}

std::uint64_t integer(const env_lookup& lookup, const std::string& name, std::uint64_t fallback,
                      std::uint64_t low, std::uint64_t high) {
  const auto value = lookup(name);
  if (!value) {
    return fallback;
  }
  const std::string text = trim(*value);
  std::uint64_t parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || parsed < low ||
      parsed > high) {
    throw config_error(name + "=\"" + *value + "\" is not an integer from " + std::to_string(low) +
                       " to " + std::to_string(high));
  }
  return parsed;
}

std::chrono::milliseconds millis(const env_lookup& lookup, const std::string& name,
                                 std::chrono::milliseconds fallback, std::uint64_t low,
                                 std::uint64_t high) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(
      integer(lookup, name, static_cast<std::uint64_t>(fallback.count()), low, high)));
}

std::chrono::seconds duration(const env_lookup& lookup, const std::string& name,
                              std::chrono::seconds fallback, std::chrono::seconds low) {
  const auto value = lookup(name);
  if (!value) {
    return fallback;
  }
  const std::string text = trim(*value);
  std::int64_t amount = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  const std::string unit(end, text.data() + text.size());
  const std::int64_t scale = unit == "s"   ? 1
                             : unit == "m" ? 60
                             : unit == "h" ? 3600
                             : unit == "d" ? 86400
                                           : 0;
  if (text.empty() || ec != std::errc{} || scale == 0 || amount <= 0 ||
      amount > 3650 * 86400 / scale || std::chrono::seconds(amount * scale) < low) {
    throw config_error(name + "=\"" + *value + "\" is not a duration such as 7d, 36h or 90m" +
                       " (at least " + std::to_string(low.count()) + " s)");
  }
  return std::chrono::seconds(amount * scale);
}

bool boolean(const env_lookup& lookup, const std::string& name, bool fallback) {
  const auto value = lookup(name);
  if (!value) {
    return fallback;
  }
  std::string text = trim(*value);
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text == "1" || text == "true" || text == "yes" || text == "on") {
    return true;
  }
  if (text == "0" || text == "false" || text == "no" || text == "off") {
    return false;
  }
  throw config_error(name + "=\"" + *value + "\" is not a boolean (true or false)");
}

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> secrets;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find(separator, start);
    const std::string item =
        trim(std::string_view(text).substr(start, end == std::string::npos ? end : end - start));
    if (!item.empty() && item.front() != '#') {
      secrets.push_back(item);
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return secrets;
}

} // namespace shopmirror::cli

namespace shopmirror::cli {

double parse_share(const std::string& name, const std::string& value) {
  std::string text = trim(value);
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) {
    text = trim(text.substr(0, text.size() - 1));
  }
  double parsed = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  const double share = percent ? parsed / 100 : parsed;
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || share < 0 ||
      share > 1) {
    throw config_error(name + "=\"" + value +
                       "\" is not a share from 0 to 1 (a fraction such as 0.1, or 10%)");
  }
  return share;
}

std::string read_file(const std::string& variable, const std::string& path) {
  std::string resolved = path;
  // Read at start-up, before any thread; nothing here calls setenv.
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY"); // NOLINT(concurrency-mt-unsafe)
  if (!path.empty() && path.front() != '/' && credentials != nullptr && *credentials != '\0') {
    resolved = std::string(credentials) + "/" + path;
  }
  std::ifstream file(resolved);
  if (!file) {
    throw config_error(variable + "=\"" + path + "\" cannot be read" +
                       (resolved == path ? "" : " (as " + resolved + ")"));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string read_secret_file(const std::string& variable, const std::string& path) {
  std::string secret = trim(read_file(variable, path));
  if (secret.empty()) {
    throw config_error(variable + "=\"" + path + "\" is empty");
  }
  return secret;
}

} // namespace shopmirror::cli
