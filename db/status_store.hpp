#pragma once

#include "db/reconcile_store.hpp"
#include "db/settings.hpp"
#include "model/timestamp.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shopmirror::db {

/// A shop's stored Admin API credentials, without the tokens.
struct credentials_status {
  std::string kind;  ///< client_credentials, application_only, expiring_offline
  std::string state; ///< active, refused
  std::optional<model::timestamp> access_expires_at;
  std::optional<model::timestamp> refresh_expires_at;
  std::optional<model::timestamp> renewed_at;
  std::optional<std::string> last_error;
};

/// One shop's health as the database records it.
struct shop_status {
  std::string shop;
  /// Deliveries received in the last hour, by outcome (only outcomes seen).
  std::map<std::string, std::int64_t> deliveries_last_hour;
  /// The newest delivery within the last day (see status_lookback), if any.
  std::optional<model::timestamp> last_delivery_at;
  /// The newest runs first (at most status_runs of them).
  std::vector<run_record> runs;
  std::int64_t dead_letters_pending = 0; ///< not replayed yet
  std::optional<model::timestamp> oldest_dead_letter_at;
  std::int64_t refreshes_due = 0;     ///< not failed yet
  std::int64_t refreshes_failing = 0; ///< failed at least once
  /// The app's uninstall as last recorded, while no product webhook has
  /// shown it installed again.
  std::optional<model::timestamp> uninstalled_at;
  /// Absent for a shop with a static token (nothing stored).
  std::optional<credentials_status> credentials;

  /// Runs of the shop whose sweep is held, waiting for an operator.
  std::vector<const run_record*> held_runs() const;
  /// What an operator should look at, one sentence each (empty: healthy).
  std::vector<std::string> attention() const;
};

/// Every shop the database or the configuration knows, by domain.
struct status_report {
  model::timestamp as_of; ///< the database's clock when it was read
  /// False for a role that may not read the stored credentials (a reader's:
  /// deploy/postgres/roles.sql): then no shop's credentials are known.
  bool credentials_readable = true;
  std::vector<shop_status> shops;
};

/// How far back the time of a shop's last delivery is looked for. The
/// delivery log's only time index is BRIN on received_at; a bounded range
/// keeps the read cheap however many rows the log holds.
inline constexpr int status_lookback_hours = 24;
/// Runs shown per shop.
inline constexpr std::size_t status_runs = 5;

/// Why a status could not be read.
enum class status_failure {
  none,
  unavailable, ///< unreachable, too slow, or a schema not there yet: try again later
  error,       ///< anything else (logged with its SQLSTATE)
};

struct status_reading {
  status_report report;
  status_failure failure = status_failure::none;
  std::string error; ///< for the log, never for a client
};

/// The statements that read the delivery log, by name, for a test to check
/// their plans: $1 a shop or null, $2 status_lookback_hours.
std::vector<std::pair<std::string, std::string>> status_delivery_log_statements();

/// Reads the status of every shop that has anything recorded, plus
/// `configured` (shown even when nothing is), or of `only` alone. One
/// read-only snapshot on a connection of its own, each statement bounded by
/// the settings' statement timeout. Thread-safe (shares nothing).
status_reading read_status(const db_settings& settings, const std::vector<std::string>& configured,
                           const std::optional<std::string>& only = std::nullopt);

} // namespace shopmirror::db
