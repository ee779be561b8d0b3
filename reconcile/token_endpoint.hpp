#pragma once

// A shop's OAuth token endpoint, `POST {shop}/admin/oauth/access_token`:
// the client credentials grant, a refresh of an expiring offline token, and
// an application-only client assertion. Nothing here stores or logs a
// token: callers do the one, and nobody does the other.

#include "reconcile/cancel.hpp"
#include "reconcile/settings.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace shopmirror::reconcile {

/// What the endpoint granted.
struct token_grant {
  std::string access_token;
  std::optional<std::int64_t> expires_in; ///< seconds; absent for a token that does not expire
  std::optional<std::string> refresh_token;
  std::optional<std::int64_t> refresh_token_expires_in;
  std::optional<std::string> scope;
};

/// Shopify refused the grant (HTTP 4xx with an OAuth error): a wrong client
/// secret, a revoked or used-up refresh token, a shop the app may not use.
/// Trying again changes nothing until someone acts. The message holds
/// Shopify's error code and description, never what was sent.
class grant_refused : public std::runtime_error {
public:
  grant_refused(const std::string& message, std::string code)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

private:
  std::string code_;
};

/// The endpoint did not answer, or failed (5xx), as many times as
/// settings.max_attempts allows: try again later.
class token_endpoint_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Not thread-safe: one per renewal.
class token_endpoint {
public:
  token_endpoint(const shop_settings& shop, const reconcile_settings& settings,
                 cancel_token& cancel);

  token_grant client_credentials();
  token_grant refresh(const std::string& refresh_token);
  /// A client assertion (a JWT signed with the app's private key; see
  /// client_assertion_claims below) exchanged for a token. `sign` makes a
  /// new one for every attempt: an assertion's id is never sent twice.
  token_grant assertion(const std::function<std::string()>& sign);

private:
  token_grant post(const std::function<std::string()>& body);

  const shop_settings& shop_;
  const reconcile_settings& settings_;
  cancel_token& cancel_;
};

/// The claims of an application-only client assertion for `shop`, issued at
/// `now` (unix seconds), valid for a minute (RFC 7523 section 3: iss and sub
/// the client id, aud the token endpoint, a unique jti).
std::string client_assertion_claims(const shop_settings& shop, std::int64_t now,
                                    const std::string& jti);

} // namespace shopmirror::reconcile
