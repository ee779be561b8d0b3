#include "tests/support/token_authority.hpp"

#include "crypto/jws.hpp"

#include <rapidjson/document.h>

#include <random>

namespace shopmirror::test {
namespace {

/// The members of a JSON object, or of a form body (a=b&c=d; none of the
/// values here need percent-decoding but the assertion type's colons).
std::map<std::string, std::string> fields_of(std::string_view body) {
  std::map<std::string, std::string> out;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    for (const auto& m : doc.GetObject()) {
      if (m.value.IsString()) {
        out[m.name.GetString()] = m.value.GetString();
      }
    }
    return out;
  }
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    const auto eq = pair.find('=');
    std::string value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    for (std::size_t at = value.find("%3A"); at != std::string::npos; at = value.find("%3A")) {
      value.replace(at, 3, ":");
    }
    out[std::string(pair.substr(0, eq))] = value;
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
  }
  return out;
}

std::string get(const std::map<std::string, std::string>& f, const std::string& key) {
  const auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

} // namespace

token_authority::token_authority(token_authority_settings settings)
    : settings_(std::move(settings)) {}

std::string token_authority::issue_access(std::chrono::seconds lifetime) {
  std::string token =
      "shpat_" + std::to_string(std::random_device{}()) + "_" + std::to_string(++serial_);
  access_[token] = clock::now() + lifetime;
  secrets_.push_back(token);
  return token;
}

token_authority::answer token_authority::refused(std::string_view error,
                                                 std::string_view description, unsigned status) {
  ++counters_.refused;
  return {status,
          "{\"error\":\"" + std::string(error) + "\",\"error_description\":\"" +
              std::string(description) + "\"}",
          false};
}

token_authority::answer token_authority::grant(std::string_view body) {
  const std::lock_guard lock(mutex_);
  const auto f = fields_of(body);
  const std::string type = get(f, "grant_type");
  const std::string assertion = get(f, "client_assertion");
  if (!assertion.empty()) {
    secrets_.push_back(assertion);
  }
  if (get(f, "client_id") != settings_.client_id) {
    return refused("invalid_client", "Client authentication failed", 401);
  }
  answer a;
  if (type == "client_credentials" && !assertion.empty()) {
    // An application-only client assertion.
    const auto verified = settings_.assertion_public_key.empty()
                              ? std::nullopt
                              : crypto::verify_jwt(assertion, settings_.assertion_public_key);
    if (!verified || get(f, "client_assertion_type") !=
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      return refused("invalid_client", "The client assertion could not be verified", 401);
    }
    rapidjson::Document claims;
    claims.Parse(verified->claims.c_str());
    const auto text = [&](const char* k) {
      return claims.HasMember(k) && claims[k].IsString() ? std::string(claims[k].GetString()) : "";
    };
    const auto number = [&](const char* k) {
      return claims.HasMember(k) && claims[k].IsInt64() ? claims[k].GetInt64() : 0;
    };
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(clock::now().time_since_epoch()).count();
    if (text("iss") != settings_.client_id || text("sub") != settings_.client_id ||
        text("aud") != "https://" + settings_.shop_domain + "/admin/oauth/access_token" ||
        number("exp") < now || number("exp") - number("iat") > 300 || text("jti").empty() ||
        !used_assertion_ids_.insert(text("jti")).second) {
      return refused("invalid_client", "The client assertion is not valid for this shop", 401);
    }
    ++counters_.assertions;
    const std::string token = issue_access(settings_.assertion_lifetime);
    a.body = "{\"access_token\":\"" + token + "\",\"scope\":\"read_products\",\"expires_in\":" +
             std::to_string(settings_.assertion_lifetime.count()) + "}";
  } else if (type == "client_credentials") {
    if (get(f, "client_secret") != settings_.client_secret) {
      return refused("invalid_client", "Client authentication failed", 401);
    }
    ++counters_.client_credentials;
    const std::string token = issue_access(settings_.client_credentials_lifetime);
    a.body = "{\"access_token\":\"" + token + "\",\"scope\":\"read_products\",\"expires_in\":" +
             std::to_string(settings_.client_credentials_lifetime.count()) + "}";
  } else if (type == "refresh_token") {
    if (get(f, "client_secret") != settings_.client_secret) {
      return refused("invalid_client", "Client authentication failed", 401);
    }
    const std::string presented = get(f, "refresh_token");
    const bool is_current = !presented.empty() && presented == current_refresh_;
    const bool is_previous = !presented.empty() && presented == previous_refresh_;
    if ((!is_current && !is_previous) || clock::now() >= refresh_expiry_) {
      if (retired_refresh_.count(presented) != 0) {
        ++counters_.stale_refresh; // its successor was used: two refreshers of one grant
      }
      return refused("invalid_request", "This request requires an active refresh_token");
    }
    if (is_current) {
      // The newest is used: the one before it retires, and the one used
      // stays valid until its successor is (a lost answer).
      if (!previous_refresh_.empty()) {
        retired_refresh_.insert(previous_refresh_);
      }
      previous_refresh_ = current_refresh_;
    } else {
      // The one before, sent again after a lost answer: the unused
      // successor is replaced.
      retired_refresh_.insert(current_refresh_);
    }
    current_refresh_ =
        "shprt_" + std::to_string(std::random_device{}()) + "_" + std::to_string(++serial_);
    secrets_.push_back(current_refresh_);
    refresh_expiry_ = clock::now() + settings_.refresh_lifetime;
    ++counters_.refreshes;
    const std::string token = issue_access(settings_.offline_lifetime);
    a.body = "{\"access_token\":\"" + token + "\",\"scope\":\"read_products\",\"expires_in\":" +
             std::to_string(settings_.offline_lifetime.count()) + ",\"refresh_token\":\"" +
             current_refresh_ + "\",\"refresh_token_expires_in\":" +
             std::to_string(settings_.refresh_lifetime.count()) + "}";
  } else {
    return refused("unsupported_grant_type", "The grant type is not supported");
  }
  if (lose_next_) {
    lose_next_ = false;
    ++counters_.lost_answers;
    a.drop = true;
  }
  return a;
}

bool token_authority::accepts(std::string_view access_token) const {
  const std::lock_guard lock(mutex_);
  const auto it = access_.find(std::string(access_token));
  return !refuse_all_ && it != access_.end() && clock::now() < it->second;
}

std::string token_authority::install_offline_grant() {
  const std::lock_guard lock(mutex_);
  current_refresh_ = "shprt_install_" + std::to_string(std::random_device{}());
  previous_refresh_.clear();
  refresh_expiry_ = clock::now() + settings_.refresh_lifetime;
  secrets_.push_back(current_refresh_);
  const std::string token = issue_access(settings_.offline_lifetime);
  return "{\"access_token\":\"" + token + "\",\"scope\":\"read_products\",\"expires_in\":" +
         std::to_string(settings_.offline_lifetime.count()) + ",\"refresh_token\":\"" +
         current_refresh_ +
         "\",\"refresh_token_expires_in\":" + std::to_string(settings_.refresh_lifetime.count()) +
         "}";
}

void token_authority::lose_next_answer() {
  const std::lock_guard lock(mutex_);
  lose_next_ = true;
}

void token_authority::revoke() {
  const std::lock_guard lock(mutex_);
  access_.clear();
  current_refresh_.clear();
  previous_refresh_.clear();
}

void token_authority::refuse_all_access() {
  const std::lock_guard lock(mutex_);
  refuse_all_ = true;
}

void token_authority::expire_access_tokens() {
  const std::lock_guard lock(mutex_);
  access_.clear();
}

token_counters token_authority::counters() const {
  const std::lock_guard lock(mutex_);
  return counters_;
}

std::vector<std::string> token_authority::secrets_seen() const {
  const std::lock_guard lock(mutex_);
  return secrets_;
}

} // namespace shopmirror::test
