#include "reconcile/admin_api.hpp"

#include "telemetry/log.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace shopmirror::reconcile {
namespace {

// Throttle waits are Shopify asking us to slow down, not failures; they
// are bounded separately and generously.
constexpr int max_throttle_waits = 60;

net::url_parts parse_base(const std::string& url, const std::string& shop) {
  auto parts = net::parse_url(url);
  if (!parts) {
    throw admin_api_error("the Admin API URL of " + shop + " is not an http(s) URL: " + url);
  }
  return *parts;
}

net::client_settings client_settings_of(const reconcile_settings& settings) {
  net::client_settings out;
  out.connect_timeout = settings.connect_timeout;
  out.request_timeout = settings.request_timeout;
  out.verify_tls = settings.verify_tls;
  return out;
}

/// Retry-After in seconds (Shopify sends "2.0"); a missing or odd value
/// means one second.
std::chrono::milliseconds retry_after(std::string_view value) {
  double seconds = 1.0;
  if (!value.empty()) {
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || !(seconds >= 0) || seconds > 3600) {
      seconds = 1.0;
    }
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::optional<throttle_status> read_throttle(const rapidjson::Document& doc) {
  if (!doc.IsObject() || !doc.HasMember("extensions")) {
    return std::nullopt;
  }
  const auto& ext = doc["extensions"];
  if (!ext.IsObject() || !ext.HasMember("cost") || !ext["cost"].IsObject()) {
    return std::nullopt;
  }
  const auto& cost = ext["cost"];
  if (!cost.HasMember("throttleStatus") || !cost["throttleStatus"].IsObject()) {
    return std::nullopt;
  }
  const auto& s = cost["throttleStatus"];
  const auto number = [&](const char* key) {
    return s.HasMember(key) && s[key].IsNumber() ? s[key].GetDouble() : 0.0;
  };
  return throttle_status{number("maximumAvailable"), number("currentlyAvailable"),
                         number("restoreRate")};
}

/// The GraphQL errors, joined; `throttled` tells whether one is THROTTLED.
std::string graphql_errors(const rapidjson::Document& doc, bool& throttled) {
  throttled = false;
  if (!doc.HasMember("errors")) {
    return {};
  }
  const auto& errors = doc["errors"];
  if (errors.IsString()) {
    return errors.GetString();
  }
  std::string out;
  if (errors.IsArray()) {
    for (const auto& e : errors.GetArray()) {
      if (!e.IsObject()) {
        continue;
      }
      if (e.HasMember("extensions") && e["extensions"].IsObject() &&
          e["extensions"].HasMember("code") && e["extensions"]["code"].IsString() &&
          std::string_view(e["extensions"]["code"].GetString()) == "THROTTLED") {
        throttled = true;
      }
      if (e.HasMember("message") && e["message"].IsString()) {
        out += out.empty() ? "" : "; ";
        out += e["message"].GetString();
      }
    }
  }
  return out.empty() ? "errors in the response" : out;
}

std::string excerpt(std::string_view body) {
  return std::string(body.substr(0, 200));
}

std::string request_body(std::string_view query, std::string_view variables) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("query");
  w.String(query.data(), static_cast<rapidjson::SizeType>(query.size()));
  w.Key("variables");
  // The caller's variables object, as it wrote it.
  if (variables.empty()) {
    w.StartObject();
    w.EndObject();
  } else {
    w.RawValue(variables.data(), variables.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

net::header_list headers_for(const std::string& token) {
  return {{"Content-Type", "application/json"},
          {"Accept", "application/json"},
          {"X-Shopify-Access-Token", token},
          {"User-Agent", "shopmirror"}};
}

} // namespace

admin_api::admin_api(const shop_settings& shop, admin_credentials& credentials,
                     const reconcile_settings& settings, cancel_token& cancel)
    : shop_(shop.domain), settings_(settings), cancel_(cancel), credentials_(credentials),
      client_settings_(client_settings_of(settings)),
      client_(parse_base(shop.base_url(), shop.domain), client_settings_) {
  auto base = parse_base(shop.base_url(), shop.domain).target;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  target_ = base + "/admin/api/" + settings.api_version + "/graphql.json";
}

std::chrono::milliseconds admin_api::backoff(int failures) {
  const double base = static_cast<double>(settings_.backoff_base.count()) *
                      std::pow(2.0, std::min(failures - 1, 20));
  const double capped = std::min(base, static_cast<double>(settings_.backoff_cap.count()));
  // Full jitter over the upper half: replicas and retries spread out.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped * spread(random_)));
}

rapidjson::Document admin_api::graphql(std::string_view query, std::string_view variables,
                                       double requested_cost) {
  const std::string body = request_body(query, variables);
  attempt_state attempts;
  attempts.token = current_token();
  for (;;) {
    cancel_.check();
    take_from_bucket(requested_cost);
    net::client_response response;
    try {
      response = client_.request("POST", target_, headers_for(attempts.token), body);
    } catch (const net::transport_error& e) {
      client_.disconnect();
      failed(attempts, e.what());
      continue;
    }
    if (should_resend(attempts, response)) {
      continue;
    }
    if (auto doc = read_data(attempts, response.body, requested_cost)) {
      return std::move(*doc);
    }
  }
}

std::string admin_api::current_token() {
  try {
    return credentials_.token(cancel_);
  } catch (const credentials_error& e) {
    throw admin_api_error(e.what());
  }
}

void admin_api::failed(attempt_state& attempts, const std::string& why) {
  if (++attempts.failures >= settings_.max_attempts) {
    throw admin_api_error("the Admin API of " + shop_ + " failed " +
                          std::to_string(attempts.failures) + " times in a row; last: " + why);
  }
  telemetry::log_event(telemetry::level::warn, "admin_api_retry")
      .field("shop", shop_)
      .field("attempt", static_cast<std::int64_t>(attempts.failures))
      .field("error", why);
  cancel_.sleep_for(backoff(attempts.failures));
}

void admin_api::throttled(attempt_state& attempts, std::chrono::milliseconds wait) {
  if (++attempts.throttle_waits > max_throttle_waits) {
    throw admin_api_error("the Admin API of " + shop_ + " kept throttling: gave up after " +
                          std::to_string(max_throttle_waits) + " waits");
  }
  cancel_.sleep_for(wait);
}

void admin_api::take_from_bucket(double requested_cost) {
  if (const auto capacity = bucket_.capacity(); capacity && requested_cost > *capacity) {
    throw admin_api_error("a query costs " + std::to_string(static_cast<int>(requested_cost)) +
                          " points, more than the bucket of " + shop_ + " holds (" +
                          std::to_string(static_cast<int>(*capacity)) + ")");
  }
  if (const auto wait = bucket_.wait_for(requested_cost); wait > wait.zero()) {
    cancel_.sleep_for(wait);
  }
  bucket_.charge(requested_cost);
}

bool admin_api::should_resend(attempt_state& attempts, const net::client_response& response) {
  if (response.status == 429) {
    throttled(attempts, retry_after(response.header("Retry-After")));
    return true;
  }
  if (response.status >= 500) {
    failed(attempts, "HTTP " + std::to_string(response.status) + ": " + excerpt(response.body));
    return true;
  }
  if (response.status == 401 && !attempts.renewed) {
    // Expired early, or revoked: renew once, then the same request again.
    attempts.renewed = true;
    try {
      attempts.token = credentials_.renew(attempts.token, cancel_);
    } catch (const credentials_error& e) {
      throw admin_api_error(e.what());
    }
    return true;
  }
  if (response.status == 401 || response.status == 403) {
    throw admin_api_error("the Admin API of " + shop_ + " refused the " +
                          std::string(to_string(credentials_.kind())) + " credentials (HTTP " +
                          std::to_string(response.status) + ")" +
                          (attempts.renewed ? " after they were renewed" : "") + ": " +
                          excerpt(response.body));
  }
  if (response.status != 200) {
    throw admin_api_error("the Admin API of " + shop_ + " answered HTTP " +
                          std::to_string(response.status) + ": " + excerpt(response.body));
  }
  return false;
}

std::optional<rapidjson::Document>
admin_api::read_data(attempt_state& attempts, const std::string& body, double requested_cost) {
  rapidjson::Document doc;
  // Iterative: however deeply an answer nests, parsing it never recurses.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                    body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    failed(attempts, "the response is not a JSON object");
    return std::nullopt;
  }
  if (const auto status = read_throttle(doc)) {
    bucket_.update(*status);
  }
  bool is_throttled = false;
  const std::string errors = graphql_errors(doc, is_throttled);
  if (is_throttled) {
    const auto wait = bucket_.wait_for(requested_cost);
    throttled(attempts, std::max(std::chrono::duration_cast<std::chrono::milliseconds>(wait),
                                 std::chrono::milliseconds(100)));
    return std::nullopt;
  }
  if (!errors.empty()) {
    throw admin_api_error("the Admin API of " + shop_ + " answered with errors: " + errors);
  }
  if (!doc.HasMember("data") || !doc["data"].IsObject()) {
    throw admin_api_error("the Admin API of " + shop_ + " answered without data");
  }
  return std::optional<rapidjson::Document>(std::move(doc));
}

void admin_api::download(const std::string& url,
                         const std::function<void(std::string_view)>& sink) {
  const auto origin = net::parse_url(url);
  if (!origin) {
    throw admin_api_error("the bulk result URL is not an http(s) URL");
  }
  net::http_client client(*origin, client_settings_);
  int failures = 0;
  for (;;) {
    cancel_.check();
    bool started = false;
    try {
      const auto response = client.request_streaming(
          "GET", origin->target, {{"User-Agent", "shopmirror"}}, [&](std::string_view piece) {
            started = true;
            sink(piece);
            return !cancel_.is_cancelled();
          });
      cancel_.check();
      if (response.status == 200) {
        return;
      }
      if (response.status < 500 || started) {
        throw admin_api_error("downloading the bulk result: HTTP " +
                              std::to_string(response.status));
      }
      if (++failures >= settings_.max_attempts) {
        throw admin_api_error("downloading the bulk result failed: HTTP " +
                              std::to_string(response.status));
      }
    } catch (const net::transport_error& e) {
      // Part of the body already went to the sink: the listing cannot be
      // resumed, so the run fails (and sweeps nothing).
      if (started || ++failures >= settings_.max_attempts) {
        throw admin_api_error(std::string("downloading the bulk result failed: ") + e.what());
      }
      client.disconnect();
    }
    cancel_.sleep_for(backoff(failures));
  }
}

} // namespace shopmirror::reconcile
