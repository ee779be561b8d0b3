#pragma once

// URLs as RFC 3986 defines them, parsed by Boost.URL: where the service
// sends a request, and the query of a request it answers.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::net {

/// Where a URL points: `scheme://host[:port]/path?query`.
struct url_parts {
  bool tls = true;
  std::string host; ///< an IPv6 address without its brackets
  std::string port;
  std::string target = "/";
};

/// Parses an http or https URL; std::nullopt if it is not one, or if it
/// carries credentials (`user@`) or an empty port. The fragment is dropped.
std::optional<url_parts> parse_url(std::string_view url);

/// The query parameters of a request target (`/path?a=1&b=x%2By`),
/// percent-decoded and `+` read as a space; the last of a repeated name
/// wins. std::nullopt if the target is not an origin-form target.
std::optional<std::map<std::string, std::string, std::less<>>>
query_parameters(std::string_view target);

} // namespace shopmirror::net
