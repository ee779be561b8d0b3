#include "reconcile/token_endpoint.hpp"

#include "net/http_client.hpp"
#include "telemetry/log.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <random>
#include <utility>

namespace shopmirror::reconcile {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string json_object(std::initializer_list<std::pair<const char*, std::string_view>> members) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  for (const auto& [key, value] : members) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::optional<std::string> string_member(const rapidjson::Value& doc, const char* key) {
  if (!doc.HasMember(key) || !doc[key].IsString()) {
    return std::nullopt;
  }
  return std::string(doc[key].GetString(), doc[key].GetStringLength());
}

std::optional<std::int64_t> seconds_member(const rapidjson::Value& doc, const char* key) {
  if (!doc.HasMember(key) || !doc[key].IsNumber()) {
    return std::nullopt;
  }
  const double seconds = doc[key].GetDouble();
  if (!(seconds >= 0) || seconds > 10.0 * 365 * 86400) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(seconds);
}

/// Shopify's OAuth error, in words that hold nothing that was sent.
std::string refusal(const rapidjson::Document& doc, unsigned status) {
  std::string text = "HTTP " + std::to_string(status);
  if (doc.IsObject()) {
    if (const auto error = string_member(doc, "error")) {
      text += ": " + *error;
    }
    if (const auto description = string_member(doc, "error_description")) {
      text += " (" + description->substr(0, 200) + ")";
    } else if (const auto errors = string_member(doc, "errors")) {
      text += " (" + errors->substr(0, 200) + ")";
    }
  }
  return text;
}

/// The token endpoint under the Admin API URL's path (`target`).
std::string token_target(std::string target) {
  while (!target.empty() && target.back() == '/') {
    target.pop_back();
  }
  target += "/admin/oauth/access_token";
  return target;
}

/// The grant of a 200 answer; one without an access token is the
/// endpoint's failure.
token_grant read_grant(const rapidjson::Document& doc, const std::string& shop) {
  token_grant grant;
  const auto token = string_member(doc, "access_token");
  if (!token || token->empty()) {
    throw token_endpoint_unavailable("the token endpoint of " + shop +
                                     " answered without an access token");
  }
  grant.access_token = *token;
  grant.expires_in = seconds_member(doc, "expires_in");
  grant.refresh_token = string_member(doc, "refresh_token");
  grant.refresh_token_expires_in = seconds_member(doc, "refresh_token_expires_in");
  grant.scope = string_member(doc, "scope");
  return grant;
}

/// The grant the answer holds; none when the request may be tried again,
/// and then `last` says why. A 4xx other than 429 refuses the grant.
std::optional<token_grant> read_answer(const net::client_response& response,
                                       const std::string& shop, std::string& last) {
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  if (response.status == 200 && !doc.HasParseError() && doc.IsObject()) {
    return read_grant(doc, shop);
  }
  if (response.status >= 400 && response.status < 500 && response.status != 429) {
    const std::string code =
        doc.IsObject() ? string_member(doc, "error").value_or("") : std::string();
    throw grant_refused("the token endpoint of " + shop +
                            " refused the grant: " + refusal(doc, response.status),
                        code);
  }
  last = refusal(doc, response.status);
  return std::nullopt;
}

} // namespace

std::string client_assertion_claims(const shop_settings& shop, std::int64_t now,
                                    const std::string& jti) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("iss");
  w.String(shop.client_id.c_str());
  w.Key("sub");
  w.String(shop.client_id.c_str());
  w.Key("aud");
  const std::string audience = "https://" + shop.domain + "/admin/oauth/access_token";
  w.String(audience.c_str());
  w.Key("iat");
  w.Int64(now);
  w.Key("exp");
  w.Int64(now + 60);
  w.Key("jti");
  w.String(jti.c_str());
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

token_endpoint::token_endpoint(const shop_settings& shop, const reconcile_settings& settings,
                               cancel_token& cancel)
    : shop_(shop), settings_(settings), cancel_(cancel) {}

token_grant token_endpoint::client_credentials() {
  return post([&] {
    return json_object({{"client_id", shop_.client_id},
                        {"client_secret", shop_.client_secret},
                        {"grant_type", "client_credentials"}});
  });
}

token_grant token_endpoint::refresh(const std::string& refresh_token) {
  // Sent again as it is after a lost answer: Shopify keeps this refresh
  // token valid until its successor is used.
  return post([&] {
    return json_object({{"client_id", shop_.client_id},
                        {"client_secret", shop_.client_secret},
                        {"grant_type", "refresh_token"},
                        {"refresh_token", refresh_token}});
  });
}

token_grant token_endpoint::assertion(const std::function<std::string()>& sign) {
  return post([&] {
    return json_object(
        {{"client_id", shop_.client_id},
         {"grant_type", "client_credentials"},
         {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
         {"client_assertion", sign()}});
  });
}

token_grant token_endpoint::post(const std::function<std::string()>& body) {
  const auto origin = net::parse_url(shop_.base_url());
  if (!origin) {
    throw grant_refused("the Admin API URL of " + shop_.domain + " is not an http(s) URL",
                        "bad_url");
  }
  const std::string target = token_target(origin->target);
  net::client_settings client_settings;
  client_settings.connect_timeout = settings_.connect_timeout;
  client_settings.request_timeout = settings_.request_timeout;
  client_settings.verify_tls = settings_.verify_tls;
  net::http_client client(*origin, client_settings);
  std::mt19937 random{std::random_device{}()};
  std::string last;
  for (int attempt = 1;; ++attempt) {
    cancel_.check();
    try {
      const auto response = client.request("POST", target,
                                           {{"Content-Type", "application/json"},
                                            {"Accept", "application/json"},
                                            {"User-Agent", "shopmirror"}},
                                           body());
      if (auto grant = read_answer(response, shop_.domain, last)) {
        return std::move(*grant);
      }
    } catch (const net::transport_error& e) {
      client.disconnect();
      last = e.what();
    }
    if (attempt >= settings_.max_attempts) {
      throw token_endpoint_unavailable("the token endpoint of " + shop_.domain + " failed " +
                                       std::to_string(attempt) + " times; last: " + last);
    }
    telemetry::log_event(telemetry::level::warn, "token_endpoint_retry")
        .field("shop", shop_.domain)
        .field("attempt", static_cast<std::int64_t>(attempt))
        .field("error", last);
    const double base = static_cast<double>(settings_.backoff_base.count()) *
                        std::pow(2.0, std::min(attempt - 1, 20));
    const double capped = std::min(base, static_cast<double>(settings_.backoff_cap.count()));
    cancel_.sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(
        capped * std::uniform_real_distribution<double>(0.5, 1.0)(random))));
  }
}

} // namespace shopmirror::reconcile
