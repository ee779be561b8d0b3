#pragma once

#include "db/settings.hpp"
#include "model/timestamp.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace shopmirror::db {

/// One shop's Admin API credentials as stored (shopmirror.admin_credentials).
/// The tokens are sealed bytes: this layer never sees them in the clear.
struct stored_credentials {
  std::string shop;
  std::string kind; ///< client_credentials, application_only, expiring_offline
  std::optional<std::string> access_token;
  std::optional<model::timestamp> access_expires_at;
  std::optional<std::string> refresh_token;
  std::optional<model::timestamp> refresh_expires_at;
  std::optional<std::string> scope;
  std::string state = "active"; ///< active, refused
  std::optional<std::string> last_error;
  std::optional<model::timestamp> renewed_at;
  std::int64_t renewals = 0;
};

/// The credentials table, over a connection opened per call (renewals are
/// rare: at most one per token lifetime). Throws std::runtime_error with
/// the database's message on database trouble.
class credential_store {
public:
  explicit credential_store(db_settings settings);

  std::optional<stored_credentials> load(const std::string& shop) const;
  std::vector<stored_credentials> load_all() const;

  /// Runs `renew` holding the shop's renewal lock (a transaction-scoped
  /// advisory lock: one renewal per shop at a time across every replica).
  /// `renew` is given the row as it stands once the lock is held (another
  /// replica may have renewed it while this one waited) and returns the row
  /// to store, or nothing to leave it as it is; what it returns is
  /// committed before this returns, and is returned (or the row as it
  /// stands). If `renew` throws, nothing is stored.
  std::optional<stored_credentials>
  renew_locked(const std::string& shop,
               const std::function<std::optional<stored_credentials>(
                   const std::optional<stored_credentials>&)>& renew) const;

  /// Stores a row as given (an operator's import), under the same lock.
  void put(const stored_credentials& row) const;

private:
  db_settings settings_;
};

} // namespace shopmirror::db
