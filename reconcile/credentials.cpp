#include "reconcile/credentials.hpp"

#include "crypto/base64.hpp"
#include "crypto/jws.hpp"
#include "crypto/sealed.hpp"
#include "db/credential_store.hpp"
#include "reconcile/token_endpoint.hpp"
#include "telemetry/log.hpp"

#include <openssl/rand.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <mutex>

namespace shopmirror::reconcile {
namespace {

using telemetry::level;
using telemetry::log_event;

std::string describe(const shop_settings& shop) {
  return "the " + std::string(to_string(shop.auth)) + " credentials of " + shop.domain;
}

std::int64_t unix_seconds(model::timestamp t) {
  return t.micros_since_epoch / 1'000'000;
}

model::timestamp after(model::timestamp t, std::int64_t seconds) {
  return model::timestamp{t.micros_since_epoch + seconds * 1'000'000};
}

/// Renew when less than a fifth of the lifetime is left, and at least five
/// minutes ahead of expiry for long-lived tokens: a run that starts with a
/// token never sees it expire in its first minutes.
bool due(const std::optional<model::timestamp>& expires,
         const std::optional<model::timestamp>& issued, model::timestamp now) {
  if (!expires) {
    return false; // does not expire
  }
  std::int64_t margin = 300'000'000;
  if (issued && *expires > *issued) {
    margin = std::min(margin, (expires->micros_since_epoch - issued->micros_since_epoch) / 5);
  }
  return now.micros_since_epoch + margin >= expires->micros_since_epoch;
}

/// A static token from the configuration: nothing to renew.
class static_credentials final : public admin_credentials {
public:
  explicit static_credentials(const shop_settings& shop) : shop_(shop) {}

  std::string token(cancel_token&) override { return shop_.admin_token; }

  std::string renew(const std::string&, cancel_token&) override {
    throw credentials_error("the Admin API refused " + describe(shop_) +
                            " (HTTP 401), and a static token cannot be renewed: replace it "
                            "(SHOPMIRROR_ADMIN_TOKEN), or use credentials that renew themselves "
                            "(SHOPMIRROR_ADMIN_AUTH)");
  }

  auth_kind kind() const noexcept override { return auth_kind::static_token; }
  std::optional<model::timestamp> expires_at() const override { return std::nullopt; }

private:
  shop_settings shop_;
};

/// Every kind that is stored and renewed.
class stored_credentials final : public admin_credentials {
public:
  stored_credentials(const shop_settings& shop, const reconcile_settings& settings,
                     const db::db_settings& database)
      : shop_(shop), settings_(settings), store_(database), key_(*settings.credentials_key) {
    if (shop_.auth == auth_kind::application_only) {
      signer_ = crypto::signing_key::from_pem(shop_.private_key_pem);
    }
  }

  std::string token(cancel_token& cancel) override {
    const std::lock_guard lock(mutex_);
    const model::timestamp now = model::now();
    if (!cached_.empty() && !due(expires_, issued_, now)) {
      return cached_;
    }
    // Another replica may have renewed it: the stored row first.
    if (const auto row = store_.load(shop_.domain); row && usable(*row, now)) {
      adopt(*row);
      return cached_;
    }
    return renew_locked(std::nullopt, cancel);
  }

  std::string renew(const std::string& rejected, cancel_token& cancel) override {
    const std::lock_guard lock(mutex_);
    if (!cached_.empty() && cached_ != rejected && !due(expires_, issued_, model::now())) {
      return cached_; // renewed by another caller since `rejected` was handed out
    }
    return renew_locked(rejected, cancel);
  }

  auth_kind kind() const noexcept override { return shop_.auth; }

  std::optional<model::timestamp> expires_at() const override {
    const std::lock_guard lock(mutex_);
    return expires_;
  }

private:
  /// A stored row whose access token can be used as it is.
  bool usable(const db::stored_credentials& row, model::timestamp now) const {
    return row.state == "active" && row.kind == to_string(shop_.auth) && row.access_token &&
           !due(row.access_expires_at, row.renewed_at, now) && open_access(row).has_value();
  }

  std::optional<std::string> open_access(const db::stored_credentials& row) const {
    return row.access_token
               ? crypto::open(key_, *row.access_token, sealing_context(shop_.domain, "access"))
               : std::nullopt;
  }

  void adopt(const db::stored_credentials& row) {
    cached_ = *open_access(row);
    expires_ = row.access_expires_at;
    issued_ = row.renewed_at;
  }

  /// With the shop's renewal lock held: what another replica renewed
  /// meanwhile, or a new grant, committed before it is used.
  std::string renew_locked(const std::optional<std::string>& rejected, cancel_token& cancel) {
    std::optional<std::string> refused;
    const auto row = store_.renew_locked(
        shop_.domain,
        [&](const std::optional<db::stored_credentials>& current)
            -> std::optional<db::stored_credentials> {
          const model::timestamp now = model::now();
          if (current && usable(*current, now) && open_access(*current) != rejected) {
            return std::nullopt; // renewed by another replica while we waited
          }
          db::stored_credentials next = current.value_or(db::stored_credentials{});
          next.shop = shop_.domain;
          next.kind = std::string(to_string(shop_.auth));
          try {
            store_grant(request_grant(current, cancel), now, next);
          } catch (const grant_refused& e) {
            // Stored, so that status shows it and no replica keeps asking.
            next.state = "refused";
            next.last_error = e.what();
            refused = e.what();
          }
          return next;
        });
    if (refused) {
      log_event(level::error, "credentials_refused")
          .field("shop", shop_.domain)
          .field("kind", to_string(shop_.auth))
          .field("error", *refused);
      throw credentials_error(describe(shop_) + " could not be renewed: " + *refused);
    }
    if (!row || !row->access_token || !open_access(*row)) {
      throw credentials_error(describe(shop_) +
                              " are stored, but do not open with "
                              "SHOPMIRROR_CREDENTIALS_KEY (another key sealed them)");
    }
    adopt(*row);
    log_event(level::info, "credentials_renewed")
        .field("shop", shop_.domain)
        .field("kind", to_string(shop_.auth))
        .field("expires_at", expires_ ? model::format_rfc3339(*expires_) : "never")
        .field("after_401", rejected.has_value());
    return cached_;
  }

  /// `next` holds the grant, issued at `now`, its tokens sealed.
  void store_grant(const token_grant& grant, model::timestamp now,
                   db::stored_credentials& next) const {
    next.access_token =
        crypto::seal(key_, grant.access_token, sealing_context(shop_.domain, "access"));
    next.access_expires_at =
        grant.expires_in ? std::optional(after(now, *grant.expires_in)) : std::nullopt;
    if (grant.refresh_token) {
      next.refresh_token =
          crypto::seal(key_, *grant.refresh_token, sealing_context(shop_.domain, "refresh"));
      next.refresh_expires_at = grant.refresh_token_expires_in
                                    ? std::optional(after(now, *grant.refresh_token_expires_in))
                                    : std::nullopt;
    }
    next.scope = grant.scope;
    next.state = "active";
    next.last_error.reset();
    next.renewed_at = now;
    ++next.renewals;
  }

  token_grant request_grant(const std::optional<db::stored_credentials>& current,
                            cancel_token& cancel) {
    token_endpoint endpoint(shop_, settings_, cancel);
    switch (shop_.auth) {
    case auth_kind::client_credentials:
      return endpoint.client_credentials();
    case auth_kind::application_only:
      return endpoint.assertion([this] { return assertion(); });
    case auth_kind::expiring_offline: {
      if (!current || !current->refresh_token) {
        throw credentials_error(describe(shop_) +
                                " have not been handed over: import them with "
                                "`shopmirror credentials import --shop " +
                                shop_.domain + "`");
      }
      if (current->refresh_expires_at && *current->refresh_expires_at <= model::now()) {
        throw credentials_error(describe(shop_) + ": the refresh token expired at " +
                                model::format_rfc3339(*current->refresh_expires_at) +
                                "; import a new grant");
      }
      const auto refresh =
          crypto::open(key_, *current->refresh_token, sealing_context(shop_.domain, "refresh"));
      if (!refresh) {
        throw credentials_error(describe(shop_) +
                                " are stored, but do not open with "
                                "SHOPMIRROR_CREDENTIALS_KEY (another key sealed them)");
      }
      return endpoint.refresh(*refresh);
    }
    case auth_kind::static_token:
      break;
    }
    throw credentials_error(describe(shop_) + " are not renewable");
  }

  std::string assertion() const {
    unsigned char random[16];
    if (RAND_bytes(random, sizeof random) != 1) {
      throw credentials_error("no random bytes for a client assertion's id");
    }
    const std::string jti = crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(random), sizeof random));
    return signer_->sign_jwt(client_assertion_claims(shop_, unix_seconds(model::now()), jti),
                             shop_.key_id);
  }

  shop_settings shop_;
  const reconcile_settings& settings_;
  db::credential_store store_;
  crypto::sealing_key key_;
  std::optional<crypto::signing_key> signer_;
  mutable std::mutex mutex_;
  std::string cached_;
  std::optional<model::timestamp> expires_;
  std::optional<model::timestamp> issued_;
};

std::optional<std::string> member_text(const rapidjson::Document& doc, const char* key) {
  return doc.HasMember(key) && doc[key].IsString()
             ? std::optional<std::string>(doc[key].GetString())
             : std::nullopt;
}

/// An expiry from `seconds_key` (seconds from now) or `time_key` (RFC 3339).
std::optional<model::timestamp> expiry(const rapidjson::Document& doc, const char* seconds_key,
                                       const char* time_key, model::timestamp now) {
  if (doc.HasMember(seconds_key) && doc[seconds_key].IsNumber()) {
    return after(now, static_cast<std::int64_t>(doc[seconds_key].GetDouble()));
  }
  if (const auto text = member_text(doc, time_key)) {
    const auto t = model::parse_rfc3339(*text);
    if (!t) {
      throw credentials_error(std::string(time_key) + " is not an RFC 3339 time");
    }
    return t;
  }
  return std::nullopt;
}

} // namespace

std::string sealing_context(const std::string& shop, std::string_view what) {
  return "shopmirror admin credentials/" + shop + "/" + std::string(what);
}

std::shared_ptr<admin_credentials> make_credentials(const shop_settings& shop,
                                                    const reconcile_settings& settings,
                                                    const db::db_settings& database) {
  if (shop.auth == auth_kind::static_token) {
    return std::make_shared<static_credentials>(shop);
  }
  if (!settings.credentials_key) {
    throw credentials_error(describe(shop) + " are stored sealed: set SHOPMIRROR_CREDENTIALS_KEY");
  }
  return std::make_shared<stored_credentials>(shop, settings, database);
}

void import_offline_tokens(const shop_settings& shop, const reconcile_settings& settings,
                           const db::db_settings& database, const std::string& json,
                           model::timestamp now) {
  if (shop.auth != auth_kind::expiring_offline) {
    throw credentials_error(shop.domain + " is not configured for expiring offline tokens "
                                          "(SHOPMIRROR_ADMIN_AUTH=expiring_offline)");
  }
  if (!settings.credentials_key) {
    throw credentials_error("set SHOPMIRROR_CREDENTIALS_KEY: stored tokens are sealed with it");
  }
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    throw credentials_error("the tokens are not a JSON object");
  }
  const auto access = member_text(doc, "access_token");
  const auto refresh = member_text(doc, "refresh_token");
  if (!access || access->empty() || !refresh || refresh->empty()) {
    throw credentials_error("the tokens need access_token and refresh_token (Shopify's token "
                            "response for an expiring offline token)");
  }
  db::stored_credentials row;
  row.shop = shop.domain;
  row.kind = std::string(to_string(shop.auth));
  const crypto::sealing_key& key = *settings.credentials_key;
  row.access_token = crypto::seal(key, *access, sealing_context(shop.domain, "access"));
  row.access_expires_at = expiry(doc, "expires_in", "expires_at", now);
  row.refresh_token = crypto::seal(key, *refresh, sealing_context(shop.domain, "refresh"));
  row.refresh_expires_at = expiry(doc, "refresh_token_expires_in", "refresh_token_expires_at", now);
  row.scope = member_text(doc, "scope");
  row.renewed_at = now;
  db::credential_store(database).put(row);
}

} // namespace shopmirror::reconcile
