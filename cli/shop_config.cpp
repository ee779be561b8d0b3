// The shops a deployment serves, how shopmirror signs in to each one's Admin
// API, and how they are reconciled: one shop from SHOPMIRROR_SHOP and its
// settings, or several from the SHOPMIRROR_CONFIG file (README, "Many
// shops", "Admin API credentials").

#include "cli/config.hpp"
#include "cli/config_values.hpp"
#include "crypto/jws.hpp"
#include "crypto/sealed.hpp"
#include "model/delivery.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <set>

namespace shopmirror::cli {
namespace {

/// A secret setting, from NAME or from the file NAME_FILE names, with the
/// variable it came from (for messages, which never repeat the secret).
struct secret_setting {
  std::string text;
  std::string variable;
};

std::optional<secret_setting> read_secret_setting(const env_lookup& lookup,
                                                  const std::string& name) {
  const auto value = lookup(name);
  const auto file = lookup(name + "_FILE");
  if (value && file) {
    throw config_error(name + " and " + name + "_FILE are both set; set one");
  }
  if (value) {
    return secret_setting{trim(*value), name};
  }
  if (file) {
    return secret_setting{read_secret_file(name + "_FILE", trim(*file)), name + "_FILE"};
  }
  return std::nullopt;
}

void check_url(const std::string& where, const std::string& url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    throw config_error(where + "=\"" + url + "\" is not an http(s) URL");
  }
}

/// A shop's settings as written (in the environment, or an entry of the
/// SHOPMIRROR_CONFIG file), and the name each one has there, for messages.
struct shop_fields {
  struct field {
    std::string name;
    std::optional<std::string> value;
  };
  std::string where; ///< "" for the environment, else the file entry
  field domain, auth, token, token_file, client_id, client_secret, client_secret_file,
      private_key_file, key_id, api_url;
  std::vector<std::string> webhook_secrets;

  std::string named(const field& f) const { return where.empty() ? f.name : where + "." + f.name; }
};

/// The secret in `value` or in the file `file` names, or nothing.
std::optional<std::string> secret(const shop_fields& s, const shop_fields::field& value,
                                  const shop_fields::field& file) {
  if (value.value && file.value) {
    throw config_error(s.named(value) + " and " + s.named(file) + " are both set; set one");
  }
  if (file.value) {
    return read_secret_file(s.named(file), trim(*file.value));
  }
  if (value.value && trim(*value.value).empty()) {
    throw config_error(s.named(value) + " is empty");
  }
  return value.value ? std::optional(trim(*value.value)) : std::nullopt;
}

reconcile::auth_kind auth_of(const shop_fields& f) {
  if (!f.auth.value) {
    return reconcile::shop_settings{}.auth;
  }
  const auto kind = reconcile::parse_auth_kind(trim(*f.auth.value));
  if (!kind) {
    throw config_error(f.named(f.auth) + "=\"" + *f.auth.value +
                       "\" is not one of static, client_credentials, application_only, "
                       "expiring_offline");
  }
  return *kind;
}

/// What one credential kind reads: each kind says what it needs and what it
/// must not be given, so a setting of another kind is a mistake, not ignored.
class credential_fields {
public:
  credential_fields(const shop_fields& f, reconcile::auth_kind kind)
      : f_(f), kind_text_(f.named(f.auth) + "=" + std::string(to_string(kind))) {}

  void forbid(std::initializer_list<const shop_fields::field*> fields) const {
    for (const auto* field : fields) {
      if (field->value) {
        throw config_error(f_.named(*field) + " is set, but " + kind_text_ + " does not use it");
      }
    }
  }

  std::string require(const std::optional<std::string>& value, const std::string& what) const {
    if (!value || value->empty()) {
      throw config_error(kind_text_ + " needs " + what);
    }
    return *value;
  }

private:
  const shop_fields& f_;
  std::string kind_text_;
};

void static_token_credentials(const shop_fields& f, const credential_fields& c,
                              const std::optional<std::string>& token,
                              reconcile::shop_settings& shop) {
  if (!token) {
    throw config_error(shop.domain + " has no Admin API access token: set " + f.named(f.token) +
                       " (or " + f.named(f.token_file) +
                       "), or credentials that renew themselves with " + f.named(f.auth));
  }
  shop.admin_token = *token;
  c.forbid({&f.client_id, &f.client_secret, &f.client_secret_file, &f.private_key_file});
}

void client_secret_credentials(const shop_fields& f, const credential_fields& c,
                               const std::optional<std::string>& client_secret,
                               reconcile::shop_settings& shop) {
  c.forbid({&f.token, &f.token_file, &f.private_key_file});
  shop.client_id = c.require(f.client_id.value, f.named(f.client_id));
  shop.client_secret = c.require(client_secret, f.named(f.client_secret) + " (or " +
                                                    f.named(f.client_secret_file) + ")");
}

void application_key_credentials(const shop_fields& f, const credential_fields& c,
                                 reconcile::shop_settings& shop) {
  c.forbid({&f.token, &f.token_file, &f.client_secret, &f.client_secret_file});
  shop.client_id = c.require(f.client_id.value, f.named(f.client_id));
  const std::string path = c.require(f.private_key_file.value, f.named(f.private_key_file));
  shop.private_key_pem = read_file(f.named(f.private_key_file), trim(path));
  try {
    (void)crypto::signing_key::from_pem(shop.private_key_pem);
  } catch (const std::exception& e) {
    throw config_error(f.named(f.private_key_file) + "=\"" + path + "\": " + e.what());
  }
  shop.key_id = trim(f.key_id.value.value_or(""));
}

/// Checks what a shop's credential kind needs, and only that, is set.
reconcile::shop_settings finish_shop(const shop_fields& f) {
  reconcile::shop_settings shop;
  shop.domain = trim(f.domain.value.value_or(""));
  if (!model::is_shop_domain(shop.domain)) {
    throw config_error(f.named(f.domain) + "=\"" + f.domain.value.value_or("") +
                       "\" is not a shop domain such as name.myshopify.com");
  }
  shop.auth = auth_of(f);
  const credential_fields credentials(f, shop.auth);
  // Both secrets are read (and checked) whichever kind uses them: a pair set
  // twice is a mistake under any kind.
  const auto token = secret(f, f.token, f.token_file);
  const auto client_secret = secret(f, f.client_secret, f.client_secret_file);
  switch (shop.auth) {
  case reconcile::auth_kind::static_token:
    static_token_credentials(f, credentials, token, shop);
    break;
  case reconcile::auth_kind::client_credentials:
  case reconcile::auth_kind::expiring_offline:
    client_secret_credentials(f, credentials, client_secret, shop);
    break;
  case reconcile::auth_kind::application_only:
    application_key_credentials(f, credentials, shop);
    break;
  }
  if (shop.auth != reconcile::auth_kind::application_only) {
    credentials.forbid({&f.key_id});
  }
  if (f.api_url.value) {
    shop.admin_api_url = trim(*f.api_url.value);
    check_url(f.named(f.api_url), shop.admin_api_url);
  }
  shop.webhook_secrets = f.webhook_secrets;
  return shop;
}

std::vector<std::string> secrets_list(const rapidjson::Value& value, const std::string& where) {
  if (!value.IsArray()) {
    throw config_error(where + ".webhook_secrets is not a list of strings");
  }
  std::vector<std::string> out;
  for (const auto& s : value.GetArray()) {
    if (!s.IsString() || s.GetStringLength() == 0) {
      throw config_error(where + ".webhook_secrets holds an empty or non-string secret");
    }
    out.emplace_back(s.GetString(), s.GetStringLength());
  }
  return out;
}

/// One entry of the file's "shops" list, every key checked.
shop_fields shop_entry(const rapidjson::Value& entry, std::string where) {
  shop_fields f;
  f.where = std::move(where);
  if (!entry.IsObject()) {
    throw config_error(f.where + " is not an object");
  }
  f.domain.name = "domain";
  f.auth.name = "auth";
  f.token.name = "admin_token";
  f.token_file.name = "admin_token_file";
  f.client_id.name = "client_id";
  f.client_secret.name = "client_secret";
  f.client_secret_file.name = "client_secret_file";
  f.private_key_file.name = "private_key_file";
  f.key_id.name = "key_id";
  f.api_url.name = "admin_api_url";
  for (const auto& member : entry.GetObject()) {
    const std::string key = member.name.GetString();
    if (key == "webhook_secrets") {
      f.webhook_secrets = secrets_list(member.value, f.where);
      continue;
    }
    shop_fields::field* target = nullptr;
    for (auto* candidate :
         {&f.domain, &f.auth, &f.token, &f.token_file, &f.client_id, &f.client_secret,
          &f.client_secret_file, &f.private_key_file, &f.key_id, &f.api_url}) {
      if (candidate->name == key) {
        target = candidate;
      }
    }
    if (target == nullptr) {
      throw config_error(f.where + ": unknown key \"" + key + "\"");
    }
    if (!member.value.IsString()) {
      throw config_error(f.where + "." + key + " is not a string");
    }
    target->value = std::string(member.value.GetString(), member.value.GetStringLength());
  }
  return f;
}

/// `{"shops": [{"domain", "auth"?, "admin_token" | "admin_token_file",
/// "client_id"?, "client_secret" | "client_secret_file", "private_key_file"?,
/// "key_id"?, "admin_api_url"?, "webhook_secrets"?}]}`; every key is
/// checked, so a typo is an error.
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
    const shop_fields f = shop_entry(entry, where + ": shops[" + std::to_string(index++) + "]");
    reconcile::shop_settings shop = finish_shop(f);
    if (!seen.insert(shop.domain).second) {
      throw config_error(f.named(f.domain) + "=\"" + shop.domain + "\" is listed twice");
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

// One shop from the environment, or several from the SHOPMIRROR_CONFIG file:
// never both.
std::vector<reconcile::shop_settings> load_shops(const env_lookup& lookup) {
  // The environment's names for one shop's settings.
  shop_fields f;
  const auto from_env = [&](shop_fields::field& field, const char* name) {
    field.name = name;
    field.value = lookup(name);
  };
  from_env(f.domain, "SHOPMIRROR_SHOP");
  from_env(f.auth, "SHOPMIRROR_ADMIN_AUTH");
  from_env(f.token, "SHOPMIRROR_ADMIN_TOKEN");
  from_env(f.token_file, "SHOPMIRROR_ADMIN_TOKEN_FILE");
  from_env(f.client_id, "SHOPMIRROR_CLIENT_ID");
  from_env(f.client_secret, "SHOPMIRROR_CLIENT_SECRET");
  from_env(f.client_secret_file, "SHOPMIRROR_CLIENT_SECRET_FILE");
  from_env(f.private_key_file, "SHOPMIRROR_APP_PRIVATE_KEY_FILE");
  from_env(f.key_id, "SHOPMIRROR_APP_KEY_ID");
  from_env(f.api_url, "SHOPMIRROR_ADMIN_API_URL");
  const std::vector<const shop_fields::field*> per_shop = {&f.auth,
                                                           &f.token,
                                                           &f.token_file,
                                                           &f.client_id,
                                                           &f.client_secret,
                                                           &f.client_secret_file,
                                                           &f.private_key_file,
                                                           &f.key_id,
                                                           &f.api_url};
  if (const auto file = lookup("SHOPMIRROR_CONFIG")) {
    for (const auto* field : per_shop) {
      if (f.domain.value || field->value) {
        throw config_error("SHOPMIRROR_CONFIG names the shops and their credentials; " +
                           (f.domain.value ? f.domain.name : field->name) +
                           " must not be set with it");
      }
    }
    return parse_config_file(trim(*file));
  }
  if (f.domain.value) {
    return {finish_shop(f)};
  }
  for (const auto* field : per_shop) {
    if (field->value) {
      throw config_error(field->name + " needs SHOPMIRROR_SHOP (the shop it belongs to)");
    }
  }
  return {};
}

// Credentials that renew themselves are stored sealed with this key.
void load_credentials_key(const env_lookup& lookup, config& c) {
  if (const auto key = read_secret_setting(lookup, "SHOPMIRROR_CREDENTIALS_KEY")) {
    c.reconcile.credentials_key = crypto::parse_sealing_key(key->text);
    if (!c.reconcile.credentials_key) {
      // The value is a secret: the message never repeats it.
      throw config_error(key->variable +
                         " is not 32 bytes in base64 (make one with: openssl rand -base64 32)");
    }
  }
  for (const auto& shop : c.shops) {
    if (shop.auth != reconcile::auth_kind::static_token && !c.reconcile.credentials_key) {
      throw config_error(shop.domain + " uses " + std::string(to_string(shop.auth)) +
                         " credentials, which are stored sealed: set SHOPMIRROR_CREDENTIALS_KEY "
                         "(or _FILE; make one with: openssl rand -base64 32)");
    }
  }
}

// The bearer tokens of POST /reconcile and GET /status.
void load_tokens(const env_lookup& lookup, config& c) {
  if (const auto bearer = lookup("SHOPMIRROR_RECONCILE_TOKEN")) {
    c.reconcile.trigger_token = trim(*bearer);
    if (c.reconcile.trigger_token.size() < 16) {
      throw config_error("SHOPMIRROR_RECONCILE_TOKEN is shorter than 16 characters");
    }
  }
  if (const auto token = read_secret_setting(lookup, "SHOPMIRROR_STATUS_TOKEN")) {
    c.status_token = token->text;
    if (c.status_token.size() < 16) {
      throw config_error(token->variable + " is shorter than 16 characters");
    }
  }
}

// When and how the reconcile runs.
void load_reconcile_settings(const env_lookup& lookup, reconcile::reconcile_settings& r) {
  if (const auto at = lookup("SHOPMIRROR_RECONCILE_AT")) {
    r.daily_at_minute = parse_daily_time("SHOPMIRROR_RECONCILE_AT", *at);
  }
  r.jitter = duration(lookup, "SHOPMIRROR_RECONCILE_JITTER", r.jitter, std::chrono::seconds(1));
  if (const auto mode = lookup("SHOPMIRROR_RECONCILE_MODE")) {
    const auto chosen = db::parse_listing_mode(trim(*mode));
    if (!chosen) {
      throw config_error("SHOPMIRROR_RECONCILE_MODE=\"" + *mode + "\" is not bulk or paginated");
    }
    r.mode = *chosen;
  }
  // 9 products of 103 points is the most under Shopify's 1,000-point cap.
  r.page_size = static_cast<int>(integer(lookup, "SHOPMIRROR_RECONCILE_PAGE_SIZE",
                                         static_cast<std::uint64_t>(r.page_size), 1, 9));
  if (const auto url = lookup("SHOPMIRROR_PUBLIC_URL")) {
    r.public_url = trim(*url);
    check_url("SHOPMIRROR_PUBLIC_URL", r.public_url);
  }
  r.subscription_check_interval = duration(lookup, "SHOPMIRROR_SUBSCRIPTION_CHECK_EVERY",
                                           r.subscription_check_interval, std::chrono::seconds(1));
  if (const auto share = lookup("SHOPMIRROR_RECONCILE_MAX_SWEEP")) {
    r.max_sweep = parse_share("SHOPMIRROR_RECONCILE_MAX_SWEEP", *share);
  }
  r.apply_connections =
      integer(lookup, "SHOPMIRROR_RECONCILE_CONNECTIONS", r.apply_connections, 1, 32);
  r.max_attempts = static_cast<int>(integer(lookup, "SHOPMIRROR_RECONCILE_MAX_ATTEMPTS",
                                            static_cast<std::uint64_t>(r.max_attempts), 1, 100));
  r.backoff_base = millis(lookup, "SHOPMIRROR_RECONCILE_RETRY_BASE_MS", r.backoff_base, 1, 600000);
  r.refresh_interval =
      millis(lookup, "SHOPMIRROR_REFRESH_INTERVAL_MS", r.refresh_interval, 10, 3600000);
  r.bulk_timeout = duration(lookup, "SHOPMIRROR_RECONCILE_BULK_TIMEOUT", r.bulk_timeout,
                            std::chrono::seconds(1));
}

} // namespace

void load_shop_config(const env_lookup& lookup, config& c) {
  c.shops = load_shops(lookup);
  load_credentials_key(lookup, c);
  load_reconcile_settings(lookup, c.reconcile);
  load_tokens(lookup, c);
}

} // namespace shopmirror::cli
