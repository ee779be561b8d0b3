#pragma once

// Rows that give every field of a shop's status a value to check: what the
// status tests of the store, the command, the routes and the page share.

#include "tests/support/test_database.hpp"

#include <string>

namespace shopmirror::test {

/// Deliveries of the last hour and older, reconcile runs (one held, one
/// failed), dead letters, refresh requests, stored credentials, an
/// uninstall.
struct status_shops {
  /// Busy: 5 deliveries in the last hour (3 applied, 1 stale, 1
  /// dead_letter; the newest 2 minutes ago), a succeeded run then a held
  /// one (sweep of 40), 2 dead letters pending and 1 replayed, a refresh
  /// due and one failing, expiring offline credentials that were refused.
  std::string busy = "busy-shop.myshopify.com";
  /// Quiet: its last delivery 5 hours ago, a failed run whose error holds
  /// markup, the app uninstalled an hour ago.
  std::string quiet = "quiet-shop.myshopify.com";
  /// Silent: one delivery two days ago, nothing else.
  std::string silent = "silent-shop.myshopify.com";
  /// The failed run's error, as stored.
  std::string failed_error = "Admin API answered 401 <script>alert('x')</script> & gave up";
};

/// Writes the rows (times relative to the database's now()).
status_shops seed_status_rows(const test_database& db);

} // namespace shopmirror::test
