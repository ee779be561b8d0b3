#pragma once

#include "crypto/sealed.hpp"
#include "db/run_vocabulary.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shopmirror::reconcile {

/// How shopmirror gets an Admin API access token for a shop.
enum class auth_kind {
  static_token,       ///< a token that does not expire (admin-built custom apps)
  client_credentials, ///< client id and secret for a 24-hour token (apps of one's own organisation)
  application_only,   ///< a signed client assertion for a token of up to an hour (public apps)
  expiring_offline,   ///< a one-hour token, renewed with a rotating refresh token
};

std::string_view to_string(auth_kind kind) noexcept;
std::optional<auth_kind> parse_auth_kind(std::string_view text) noexcept;

/// One store the deployment serves: where its Admin API is and how to
/// sign in, plus signing keys of its own for its webhook notifications.
struct shop_settings {
  std::string domain; ///< name.myshopify.com
  auth_kind auth = auth_kind::static_token;
  std::string admin_token;   ///< X-Shopify-Access-Token (static_token)
  std::string client_id;     ///< the app's client id (every renewable kind)
  std::string client_secret; ///< client_credentials, expiring_offline
  /// application_only: the private key (PEM) that signs client assertions,
  /// and the id of its public key in the Dev Dashboard, if it has one.
  std::string private_key_pem;
  std::string key_id;
  /// Replaces https://{domain} (a proxy, or the test suite's stand-in).
  std::string admin_api_url;
  std::vector<std::string> webhook_secrets;

  /// admin_api_url, or https://{domain} when none was given.
  std::string base_url() const;
};

/// How runs are made; the same for every shop.
struct reconcile_settings {
  std::string api_version = "2026-10";
  /// The daily run, in minutes after midnight UTC; nullopt: no schedule.
  std::optional<int> daily_at_minute = 3 * 60;
  /// A random delay of up to this much after the daily time, so that many
  /// deployments (and shops) do not all start at once.
  std::chrono::seconds jitter{300};
  /// bulk (a bulk operation's JSONL) or paginated (products pages).
  db::run_mode mode = db::run_mode::bulk;
  /// Bearer token of POST /reconcile; empty: the endpoint answers 404.
  std::string trigger_token;
  /// Products per page in paginated mode (each asks for 100 variants, so a
  /// page costs 2 + 103 per product of the bucket; 9 fits Shopify's
  /// 1,000-point single-query cap).
  int page_size = 9;
  /// The largest share of a shop's live products a run's sweep tombstones
  /// without an operator's confirmation (beyond it, and for an empty
  /// listing, the run ends held).
  double max_sweep = 0.1;
  /// Products applied per database transaction.
  std::size_t batch_size = 250;
  /// Connections applying batches in parallel during a run.
  std::size_t apply_connections = 2;
  /// Attempts per request before a run fails (5xx, 429, lost connections).
  int max_attempts = 6;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  std::chrono::milliseconds request_timeout{60000};
  std::chrono::milliseconds connect_timeout{10000};
  /// How often a running bulk operation is polled, at most.
  std::chrono::milliseconds bulk_poll_cap{5000};
  /// How long a bulk operation may take before the run gives up; also how
  /// long a run waits for another bulk query of the app that is in progress
  /// before it lists by pages instead.
  std::chrono::seconds bulk_timeout{6 * 3600};
  /// How often refresh requests (stub payloads) are looked for.
  std::chrono::milliseconds refresh_interval{5000};
  /// Verify Admin API certificates (off only in tests with self-signed ones).
  bool verify_tls = true;
  /// Where Shopify delivers webhooks to shopmirror (through nginx): what
  /// the webhook subscriptions must point at (SHOPMIRROR_PUBLIC_URL). Empty:
  /// subscriptions are not checked.
  std::string public_url;
  /// How often `serve` checks the webhook subscriptions (and once at start).
  std::chrono::seconds subscription_check_interval{24 * 3600};
  /// Seals stored tokens (SHOPMIRROR_CREDENTIALS_KEY); required as soon as
  /// one shop's credentials renew themselves.
  std::optional<crypto::sealing_key> credentials_key;
};

} // namespace shopmirror::reconcile
