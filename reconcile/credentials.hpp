#pragma once

// Admin API access tokens that renew themselves. A static token is what
// the configuration holds. Every other kind is stored in PostgreSQL
// (db/credential_store.hpp), sealed with SHOPMIRROR_CREDENTIALS_KEY, so
// that every replica uses one token per shop, and renewed ahead of its
// expiry by one replica at a time (the shop's renewal lock). An expiring
// offline token's rotated refresh token is committed before the new access
// token is used; a renewal whose answer was lost is sent again with the
// refresh token still stored, which Shopify keeps valid until its
// successor is used.

#include "db/settings.hpp"
#include "model/timestamp.hpp"
#include "reconcile/cancel.hpp"
#include "reconcile/settings.hpp"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace shopmirror::reconcile {

/// No usable token: the message names the shop and the credential kind and
/// says why (Shopify refused the grant, nothing was imported, ...). Never
/// a token, a secret or an assertion.
class credentials_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A shop's Admin API credentials. Thread-safe: runs and the refresh
/// worker share one per shop.
class admin_credentials {
public:
  virtual ~admin_credentials() = default;

  /// A token to send now: renewed first if it expires within a fifth of
  /// its lifetime (at most five minutes). Throws credentials_error, or
  /// cancelled.
  virtual std::string token(cancel_token& cancel) = 0;

  /// The Admin API answered 401 to `rejected`: a fresh token (unless
  /// another caller has already renewed it), or credentials_error.
  virtual std::string renew(const std::string& rejected, cancel_token& cancel) = 0;

  virtual auth_kind kind() const noexcept = 0;

  /// When the token in use expires, if it does and one has been fetched.
  virtual std::optional<model::timestamp> expires_at() const = 0;
};

/// The shop's credentials as its settings say. The renewable kinds need
/// `settings.credentials_key` and the database.
std::shared_ptr<admin_credentials> make_credentials(const shop_settings& shop,
                                                    const reconcile_settings& settings,
                                                    const db::db_settings& database);

/// What an expiring offline grant is handed over as: Shopify's token
/// response (access_token, expires_in, refresh_token,
/// refresh_token_expires_in, scope; or expires_at / refresh_token_expires_at
/// as RFC 3339 times), sealed and stored as the shop's credentials, which
/// shopmirror owns from then on. Throws credentials_error saying what is
/// wrong with the document (never its content).
void import_offline_tokens(const shop_settings& shop, const reconcile_settings& settings,
                           const db::db_settings& database, const std::string& json,
                           model::timestamp now);

/// The context a stored secret is sealed to: its shop and what it is.
std::string sealing_context(const std::string& shop, std::string_view what);

} // namespace shopmirror::reconcile
