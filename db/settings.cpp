#include "db/settings.hpp"

#include <libpq-fe.h>

#include <memory>

namespace shopmirror::db {
namespace {

bool is_uri(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

// Adds key=value unless the string already names the key.
void add_default(std::string& conninfo, bool uri, const std::string& key,
                 const std::string& value) {
  if (conninfo.find(key + "=") != std::string::npos) {
    return;
  }
  if (uri) {
    conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
    conninfo += key + "=" + value;
  } else {
    conninfo += (conninfo.empty() ? "" : " ") + key + "='" + value + "'";
  }
}

} // namespace

std::optional<std::string> validate_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? error : "cannot be parsed";
    PQfreemem(error);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    return message;
  }
  PQconninfoFree(options);
  return std::nullopt;
}

std::string connection_string(const db_settings& settings) {
  std::string conninfo = settings.url;
  const bool uri = is_uri(conninfo);
  // libpq counts connect_timeout in whole seconds, and 1 is raised to 2.
  const auto seconds = std::max<long long>(
      2, std::chrono::duration_cast<std::chrono::seconds>(settings.connect_timeout).count());
  add_default(conninfo, uri, "connect_timeout", std::to_string(seconds));
  add_default(conninfo, uri, "application_name", settings.application_name);
  add_default(conninfo, uri, "keepalives", "1");
  add_default(conninfo, uri, "keepalives_idle", std::to_string(settings.keepalive_idle.count()));
  add_default(conninfo, uri, "keepalives_interval",
              std::to_string(settings.keepalive_interval.count()));
  add_default(conninfo, uri, "keepalives_count", std::to_string(settings.keepalive_count));
  add_default(conninfo, uri, "tcp_user_timeout", std::to_string(settings.tcp_user_timeout.count()));
  return conninfo;
}

} // namespace shopmirror::db
