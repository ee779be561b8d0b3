#include "net/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace shopmirror::net {

std::optional<url_parts> parse_url(std::string_view text) {
  const auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return std::nullopt;
  }
  const boost::urls::url_view& url = *parsed;
  url_parts parts;
  if (url.scheme_id() == boost::urls::scheme::https) {
    parts.tls = true;
    parts.port = "443";
  } else if (url.scheme_id() == boost::urls::scheme::http) {
    parts.tls = false;
    parts.port = "80";
  } else {
    return std::nullopt;
  }
  if (!url.has_authority() || url.has_userinfo() || url.encoded_host().empty()) {
    return std::nullopt;
  }
  parts.host = url.host_address();
  if (url.has_port()) {
    if (url.port().empty()) {
      return std::nullopt;
    }
    parts.port = url.port();
  }
  const std::string_view target = url.encoded_target();
  parts.target =
      target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return parts;
}

std::optional<std::map<std::string, std::string, std::less<>>>
query_parameters(std::string_view target) {
  const auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) {
    return std::nullopt;
  }
  boost::urls::encoding_opts form;
  form.space_as_plus = true; // HTML forms and curl --data-urlencode write a space so
  std::map<std::string, std::string, std::less<>> out;
  for (const auto& param : parsed->params(form)) {
    out[param.key] = param.has_value ? param.value : std::string();
  }
  return out;
}

} // namespace shopmirror::net
