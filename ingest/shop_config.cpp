// The shops a deployment serves and how they are reconciled: one shop from
// SHOPMIRROR_SHOP / SHOPMIRROR_ADMIN_TOKEN, or several from the
// SHOPMIRROR_CONFIG file (README, "Many shops").

#include "ingest/config.hpp"
#include "ingest/config_values.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <fstream>
#include <set>
#include <sstream>

namespace shopmirror::ingest {
namespace {

bool is_shop_domain(std::string_view domain) {
  constexpr std::string_view suffix = ".myshopify.com";
  if (domain.size() <= suffix.size() || domain.substr(domain.size() - suffix.size()) != suffix) {
    return false;
  }
  const std::string_view name = domain.substr(0, domain.size() - suffix.size());
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos &&
         name.front() != '-';
}

std::string read_file(const std::string& variable, const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    throw config_error(variable + "=\"" + path + "\" cannot be read");
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

void check_url(const std::string& where, const std::string& url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    throw config_error(where + "=\"" + url + "\" is not an http(s) URL");
  }
}

/// `{"shops": [{"domain", "admin_token" | "admin_token_file", "admin_api_url"?,
/// "webhook_secrets"?}]}`; every key is checked, so a typo is an error.
std::vector<reconcile::shop_settings> parse_config_file(const std::string& path) {
  const std::string name = "SHOPMIRROR_CONFIG";
  const std::string text = read_file(name, path);
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  const std::string where = name + "=\"" + path + "\"";
  if (doc.HasParseError()) {
    throw config_error(where + " is not JSON: " + rapidjson::GetParseError_En(doc.GetParseError()) +
                       " at byte " + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject() || !doc.HasMember("shops") || !doc["shops"].IsArray() ||
      doc["shops"].Empty()) {
    throw config_error(where + " has no \"shops\" list");
  }
  for (const auto& member : doc.GetObject()) {
    if (std::string_view(member.name.GetString()) != "shops") {
      throw config_error(where + ": unknown key \"" + member.name.GetString() + "\"");
    }
  }
  std::vector<reconcile::shop_settings> shops;
  std::set<std::string> seen;
  std::size_t index = 0;
  for (const auto& entry : doc["shops"].GetArray()) {
    const std::string at = where + ": shops[" + std::to_string(index++) + "]";
    if (!entry.IsObject()) {
      throw config_error(at + " is not an object");
    }
    reconcile::shop_settings shop;
    std::string token_file;
    for (const auto& member : entry.GetObject()) {
      const std::string key = member.name.GetString();
      const auto text_value = [&]() {
        if (!member.value.IsString()) {
          throw config_error(at + "." + key + " is not a string");
        }
        return std::string(member.value.GetString(), member.value.GetStringLength());
      };
      if (key == "domain") {
        shop.domain = text_value();
      } else if (key == "admin_token") {
        shop.admin_token = text_value();
      } else if (key == "admin_token_file") {
        token_file = text_value();
      } else if (key == "admin_api_url") {
        shop.admin_api_url = text_value();
        check_url(at + ".admin_api_url", shop.admin_api_url);
      } else if (key == "webhook_secrets") {
        if (!member.value.IsArray()) {
          throw config_error(at + ".webhook_secrets is not a list of strings");
        }
        for (const auto& secret : member.value.GetArray()) {
          if (!secret.IsString() || secret.GetStringLength() == 0) {
            throw config_error(at + ".webhook_secrets holds an empty or non-string secret");
          }
          shop.webhook_secrets.emplace_back(secret.GetString(), secret.GetStringLength());
        }
      } else {
        throw config_error(at + ": unknown key \"" + key + "\"");
      }
    }
    if (!is_shop_domain(shop.domain)) {
      throw config_error(at + ".domain=\"" + shop.domain +
                         "\" is not a shop domain such as name.myshopify.com");
    }
    if (!seen.insert(shop.domain).second) {
      throw config_error(at + ".domain=\"" + shop.domain + "\" is listed twice");
    }
    if (!token_file.empty()) {
      if (!shop.admin_token.empty()) {
        throw config_error(at + " has both admin_token and admin_token_file; set one");
      }
      shop.admin_token = read_secret_file(at + ".admin_token_file", token_file);
    }
    if (shop.admin_token.empty()) {
      throw config_error(at + " has no admin_token (or admin_token_file)");
    }
    shops.push_back(std::move(shop));
  }
  return shops;
}

/// "03:00" -> 180; "off" -> nullopt.
std::optional<int> parse_daily_time(const std::string& name, const std::string& value) {
  const std::string text = trim(value);
  if (text == "off" || text == "none") {
    return std::nullopt;
  }
  const bool shaped = text.size() == 5 && text[2] == ':' && std::isdigit(text[0]) &&
                      std::isdigit(text[1]) && std::isdigit(text[3]) && std::isdigit(text[4]);
  const int hours = shaped ? (text[0] - '0') * 10 + (text[1] - '0') : -1;
  const int minutes = shaped ? (text[3] - '0') * 10 + (text[4] - '0') : -1;
  if (!shaped || hours > 23 || minutes > 59) {
    throw config_error(name + "=\"" + value + "\" is not a time of day HH:MM (UTC) or off");
  }
  return hours * 60 + minutes;
}

} // namespace

void load_shop_config(const env_lookup& lookup, config& c) {
  const auto shop = lookup("SHOPMIRROR_SHOP");
  const auto file = lookup("SHOPMIRROR_CONFIG");
  const auto token = lookup("SHOPMIRROR_ADMIN_TOKEN");
  const auto token_file = lookup("SHOPMIRROR_ADMIN_TOKEN_FILE");
  const auto api_url = lookup("SHOPMIRROR_ADMIN_API_URL");
  if (file) {
    if (shop || token || token_file || api_url) {
      throw config_error("SHOPMIRROR_CONFIG names the shops; SHOPMIRROR_SHOP, "
                         "SHOPMIRROR_ADMIN_TOKEN(_FILE) and SHOPMIRROR_ADMIN_API_URL must not "
                         "be set with it");
    }
    c.shops = parse_config_file(trim(*file));
  } else if (shop) {
    reconcile::shop_settings s;
    s.domain = trim(*shop);
    if (!is_shop_domain(s.domain)) {
      throw config_error("SHOPMIRROR_SHOP=\"" + *shop +
                         "\" is not a shop domain such as name.myshopify.com");
    }
    if (token && token_file) {
      throw config_error("SHOPMIRROR_ADMIN_TOKEN and SHOPMIRROR_ADMIN_TOKEN_FILE are both set; "
                         "set one");
    }
    if (token) {
      s.admin_token = trim(*token);
    } else if (token_file) {
      s.admin_token = read_secret_file("SHOPMIRROR_ADMIN_TOKEN_FILE", trim(*token_file));
    }
    if (s.admin_token.empty()) {
      throw config_error("SHOPMIRROR_SHOP is set but SHOPMIRROR_ADMIN_TOKEN is not (the Admin "
                         "API access token of the shop's app)");
    }
    if (api_url) {
      s.admin_api_url = trim(*api_url);
      check_url("SHOPMIRROR_ADMIN_API_URL", s.admin_api_url);
    }
    c.shops.push_back(std::move(s));
  } else if (token || token_file || api_url) {
    throw config_error("SHOPMIRROR_ADMIN_TOKEN and SHOPMIRROR_ADMIN_API_URL need "
                       "SHOPMIRROR_SHOP (the shop they belong to)");
  }

  reconcile::reconcile_settings& r = c.reconcile;
  if (const auto at = lookup("SHOPMIRROR_RECONCILE_AT")) {
    r.daily_at_minute = parse_daily_time("SHOPMIRROR_RECONCILE_AT", *at);
  }
  r.jitter = duration(lookup, "SHOPMIRROR_RECONCILE_JITTER", r.jitter, std::chrono::seconds(1));
  if (const auto mode = lookup("SHOPMIRROR_RECONCILE_MODE")) {
    r.mode = trim(*mode);
    if (r.mode != "bulk" && r.mode != "paginated") {
      throw config_error("SHOPMIRROR_RECONCILE_MODE=\"" + *mode + "\" is not bulk or paginated");
    }
  }
  if (const auto bearer = lookup("SHOPMIRROR_RECONCILE_TOKEN")) {
    r.trigger_token = trim(*bearer);
    if (r.trigger_token.size() < 16) {
      throw config_error("SHOPMIRROR_RECONCILE_TOKEN is shorter than 16 characters");
    }
  }
  // 9 products of 103 points is the most under Shopify's 1,000-point cap.
  r.page_size = static_cast<int>(integer(lookup, "SHOPMIRROR_RECONCILE_PAGE_SIZE",
                                         static_cast<std::uint64_t>(r.page_size), 1, 9));
  if (const auto share = lookup("SHOPMIRROR_RECONCILE_MAX_SWEEP")) {
    r.max_sweep = parse_share("SHOPMIRROR_RECONCILE_MAX_SWEEP", *share);
  }
  r.apply_connections = integer(lookup, "SHOPMIRROR_RECONCILE_CONNECTIONS", r.apply_connections, 1, 32);
  r.max_attempts = static_cast<int>(integer(lookup, "SHOPMIRROR_RECONCILE_MAX_ATTEMPTS",
                                            static_cast<std::uint64_t>(r.max_attempts), 1, 100));
  r.backoff_base = millis(lookup, "SHOPMIRROR_RECONCILE_RETRY_BASE_MS", r.backoff_base, 1, 600000);
  r.refresh_interval =
      millis(lookup, "SHOPMIRROR_REFRESH_INTERVAL_MS", r.refresh_interval, 10, 3600000);
  r.bulk_timeout = duration(lookup, "SHOPMIRROR_RECONCILE_BULK_TIMEOUT", r.bulk_timeout,
                            std::chrono::seconds(1));
}

} // namespace shopmirror::ingest
