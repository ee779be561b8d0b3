#pragma once

#include "db/settings.hpp"

#include <optional>
#include <string>

namespace shopmirror::db {

/// The app's installation on one shop, as its webhooks told it
/// (shopify.shop_installations): uninstalled from its newest
/// `app/uninstalled` (or `shop/redact`) until a product webhook observed
/// after it shows the app installed again.
struct shop_installation {
  bool installed = true;
  /// When the newest uninstall was observed (RFC 3339), if there was one.
  std::optional<std::string> uninstalled_at;
  /// When a product webhook showed the app installed again after it.
  std::optional<std::string> reinstalled_at;
};

/// The shop's installation state, read through shopify.shop_installed,
/// the one definition the refresh worker's claim uses too. Reconcile runs
/// and Admin API credentials check it before reaching the shop. Opens a
/// connection of its own, with the store's statement and lock timeouts.
/// Throws db::database_error (db/errors.hpp) when the database cannot be
/// read.
shop_installation read_installation(const db_settings& settings, const std::string& shop);

/// read_installation(...).installed.
bool shop_installed(const db_settings& settings, const std::string& shop);

} // namespace shopmirror::db
