#pragma once

#include "db/settings.hpp"
#include "db/shop_erasure.hpp"
#include "db/writer.hpp"
#include "ingest/listen_address.hpp"
#include "reconcile/settings.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace shopmirror::cli {

/// A setting with a bad value; the message names the variable.
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Reads `value` (host:port, [v6]:port) of the variable `name`; throws
/// config_error naming it when it is not one.
ingest::listen_address parse_listen(const std::string& name, const std::string& value);

/// Everything shopmirror reads from its environment (see deploy/env.example).
struct config {
  db::db_settings database;
  db::writer_settings writer;
  ingest::listen_address listen;
  std::vector<std::string> webhook_secrets;
  std::uint64_t max_body_bytes = 8 * 1024 * 1024;
  /// A delivery not committed within this time is answered 503 (Shopify
  /// gives up on a request after 5 s).
  std::chrono::milliseconds ack_timeout{3000};
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{75000};
  std::chrono::milliseconds drain_timeout{10000};
  std::size_t max_connections = 1024;
  std::size_t io_threads = 1;
  bool migrate_on_start = true;
  /// The Admin API version shopmirror is pinned to; a delivery serialized
  /// with another version is counted as a mismatch.
  std::string api_version = "2026-10";
  std::string log_level = "info";
  /// Delivery-log rows older than this are pruned (longer than Shopify's
  /// retry window of 4 hours plus its worst delays of a day).
  std::chrono::seconds delivery_retention{7 * 24 * 3600};
  /// How often the service prunes the delivery log (the first time a minute
  /// after start, or sooner if this is shorter).
  std::chrono::seconds prune_every{3600};
  /// How shop/redact erasures are carried out: rows per transaction, and
  /// how often pending ones are looked for.
  db::erasure_settings erasure;
  /// Peers whose X-Forwarded-For / X-Real-IP name the client (nginx).
  std::vector<std::string> trusted_proxies = {"127.0.0.1", "::1"};
  /// The shops served: from SHOPMIRROR_SHOP and SHOPMIRROR_ADMIN_TOKEN, or
  /// from the SHOPMIRROR_CONFIG file (several shops). Needed for reconcile.
  std::vector<reconcile::shop_settings> shops;
  reconcile::reconcile_settings reconcile;
  /// Bearer token of GET /status and /status/ (SHOPMIRROR_STATUS_TOKEN or
  /// _FILE), which grants nothing else; the reconcile token opens them too.
  std::string status_token;
  /// SHOPMIRROR_* variables that are not settings (typos, usually).
  std::vector<std::string> unknown_variables;

  /// Throws config_error unless SHOPMIRROR_DATABASE_URL was given.
  void require_database() const;
  /// Throws config_error unless at least one webhook secret was given.
  void require_secrets() const;
  /// Throws config_error unless at least one shop with Admin API access was given.
  void require_shops() const;
};

/// Reads a variable; std::nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Reads and validates every setting. Throws config_error naming the first
/// variable whose value is wrong. `names` lists the SHOPMIRROR_* variables
/// present, to report unknown ones.
config load_config(const env_lookup& lookup, const std::vector<std::string>& names);

/// Reads the shops and the reconcile settings into `c` (shop_config.cpp).
void load_shop_config(const env_lookup& lookup, config& c);

/// load_config over the process environment.
config load_config_from_environment();

} // namespace shopmirror::cli
