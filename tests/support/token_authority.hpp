#pragma once

// Shopify's OAuth token endpoint, `POST /admin/oauth/access_token`, as the
// Admin API stand-in answers it: the client credentials grant, refreshes of
// expiring offline tokens with rotating refresh tokens, and application-only
// client assertions; and which access tokens the Admin API accepts. Facts
// from Shopify's docs (README, "Admin API access"):
//   * client credentials: {client_id, client_secret, grant_type:
//     client_credentials} -> {access_token, scope, expires_in} (24 h);
//   * refresh: {client_id, client_secret, grant_type: refresh_token,
//     refresh_token} -> a new access token (1 h) and a new refresh token
//     (90 days). The refresh token sent stays valid until its successor is
//     used (since 2026-08-28), so a refresh whose answer was lost can be
//     sent again; one used after its successor was is refused
//     (HTTP 400 invalid_grant).
//   * application-only: a client assertion (a JWT the app signs with its
//     private key; Shopify verifies it with the public key registered in
//     the Dev Dashboard) -> an access token of up to an hour.
// Lifetimes are settings, so that tests compress hours into seconds.

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::test {

struct token_authority_settings {
  std::string client_id = "stand-in-client-id";
  std::string client_secret = "stand-in-client-secret";
  /// Verifies client assertions (PEM); empty: assertions are refused.
  std::string assertion_public_key;
  /// The shop whose token endpoint this is: an assertion's audience.
  std::string shop_domain = "test-shop.myshopify.com";
  std::chrono::seconds client_credentials_lifetime{86399};
  std::chrono::seconds assertion_lifetime{3600};
  std::chrono::seconds offline_lifetime{3600};
  std::chrono::seconds refresh_lifetime{90 * 86400};
};

struct token_counters {
  int client_credentials = 0; ///< tokens granted, by grant
  int refreshes = 0;
  int assertions = 0;
  int refused = 0;       ///< grants refused (4xx)
  int stale_refresh = 0; ///< refreshes with a refresh token already retired
  int lost_answers = 0;  ///< grants made whose answer was dropped
};

class token_authority {
public:
  struct answer {
    unsigned status = 200;
    std::string body;
    bool drop = false; ///< close the connection without answering
  };

  explicit token_authority(token_authority_settings settings);

  /// Answers a POST to the token endpoint (a JSON or form body).
  answer grant(std::string_view body);

  /// Whether the Admin API takes `access_token` now.
  bool accepts(std::string_view access_token) const;

  /// An expiring offline grant as Shopify's token response gives it at
  /// install: what an operator hands to `shopmirror credentials import`.
  std::string install_offline_grant();

  /// The next grant is made, but its answer is lost on the way.
  void lose_next_answer();
  /// The merchant revoked the app's access: every token and refresh token
  /// issued so far is refused from now on.
  void revoke();
  /// Every access token issued so far is refused (401) from now on,
  /// though each grant still works: a token that "expired early".
  void expire_access_tokens();
  /// Every access token is refused, those granted later too (an app whose
  /// access scopes were taken away).
  void refuse_all_access();

  token_counters counters() const;
  /// Every access and refresh token issued, and every assertion received:
  /// what must never appear in a log, a run record or /metrics.
  std::vector<std::string> secrets_seen() const;

private:
  std::string issue_access(std::chrono::seconds lifetime);
  answer refused(std::string_view error, std::string_view description, unsigned status = 400);

  token_authority_settings settings_;
  mutable std::mutex mutex_;
  using clock = std::chrono::system_clock;
  std::map<std::string, clock::time_point> access_; ///< token -> expiry
  // The rotating grant: the newest refresh token, and the one before it,
  // valid until the newest is used; and those retired.
  std::string current_refresh_;
  std::string previous_refresh_;
  std::set<std::string> retired_refresh_;
  clock::time_point refresh_expiry_{};
  std::set<std::string> used_assertion_ids_;
  bool lose_next_ = false;
  bool refuse_all_ = false;
  token_counters counters_;
  std::vector<std::string> secrets_;
  unsigned long long serial_ = 0;
};

} // namespace shopmirror::test
