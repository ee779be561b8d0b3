#pragma once

#include "db/settings.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace shopmirror::db {

class pg_session;

/// How shop/redact requests are carried out (SHOPMIRROR_ERASE_*).
struct erasure_settings {
  /// Rows erased per transaction: few enough that no lock or transaction
  /// of an erasure holds up other shops' deliveries.
  std::size_t batch_rows = 1000;
  /// How often pending erasures are looked for (a shop/redact this process
  /// acknowledged wakes the worker at once).
  std::chrono::milliseconds interval{5000};
  /// How long a claimed erasure is left to its worker without a step
  /// before another replica may take it over (a worker that died).
  std::chrono::seconds lease{300};
};

/// A value read from the database, or why it could not be.
template <class T> struct or_error {
  T value{};
  std::string error; ///< empty on success
  bool ok() const noexcept { return error.empty(); }
};

/// A shop/redact request being carried out (a row of shopify.shop_redactions).
struct shop_redaction {
  std::int64_t id = 0;
  std::string shop;
  std::string webhook_id;
  int attempts = 0; ///< failed attempts before this one
};

/// What one step of an erasure came to.
struct erasure_step {
  std::string table; ///< where rows were erased
  std::int64_t rows = 0;
  bool finished = false; ///< nothing of the shop was left: the redaction is finished
  std::string error;     ///< the step failed and erased nothing: why (with the SQLSTATE)
};

/// A redaction as recorded.
struct redaction_record {
  std::int64_t id = 0;
  std::string shop;
  std::string webhook_id;
  std::string requested_at;               ///< RFC 3339
  std::optional<std::string> finished_at; ///< RFC 3339
  std::string erased;                     ///< JSON: rows erased, by table
  std::int64_t erased_rows = 0;
  int attempts = 0;
  std::optional<std::string> last_error;
  double seconds = 0; ///< from the start of its first attempt to its end
};

/// Erasures not finished yet.
struct erasure_backlog {
  std::int64_t due = 0;     ///< not failed yet
  std::int64_t failing = 0; ///< failed at least once (last_error set)
};

/// The erasure's side of the database (shop/redact), over one connection
/// of its own. Database trouble is reported as a value, never thrown; a
/// lost connection is dropped and reopened on the next call (and with it
/// goes the shop lock). Not thread-safe.
class erasure_store {
public:
  erasure_store(db_settings database, erasure_settings settings);
  ~erasure_store();
  erasure_store(const erasure_store&) = delete;
  erasure_store& operator=(const erasure_store&) = delete;

  /// The oldest due redaction no other session is working on (FOR UPDATE
  /// SKIP LOCKED), leased to this one: other replicas skip it until the
  /// lease runs out. Nothing when none is due.
  or_error<std::optional<shop_redaction>> claim();

  /// Takes the shop's reconcile lock for this session, so that no reconcile
  /// run of the shop writes while it is erased; false while a run holds it.
  /// The key is the one db/reconcile_store.cpp locks a shop's runs with.
  or_error<bool> lock_shop(const std::string& shop);
  void unlock_shop(const std::string& shop) noexcept;

  /// One step: up to batch_rows rows of the shop erased from one table, in
  /// a transaction of its own, counted in the redaction and its lease
  /// renewed (shopify.erase_shop_step); finished once nothing is left.
  erasure_step step(const shop_redaction& redaction);

  /// Records a failed attempt: its error, and the next try after a back-off
  /// that grows with the attempts (1 s, 2 s, 4 s... an hour at most).
  /// Returns why it could not be recorded, or an empty string.
  std::string record_failure(const shop_redaction& redaction, const std::string& error);

  /// Leaves the redaction to be claimed again after `delay` (the shop's
  /// reconcile lock is taken; shopmirror is stopping).
  void postpone(const shop_redaction& redaction, std::chrono::seconds delay) noexcept;

  or_error<std::optional<redaction_record>> find(std::int64_t id);
  or_error<erasure_backlog> backlog();

private:
  erasure_settings settings_;
  std::unique_ptr<pg_session> session_;
};

} // namespace shopmirror::db
