#pragma once

#include "db/settings.hpp"
#include "sync/background_loop.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace shopmirror::db {

class pg_session;

/// Whether the database can be used: reachable, and its schema at least the
/// version this binary needs.
struct readiness {
  bool ready = false;
  int schema_version = 0;
  std::string reason = "not checked yet";
};

/// Whether two connections to the database can be served by one server
/// session, as behind a pooler in transaction mode (PgBouncer's
/// pool_mode=transaction): shopmirror keeps state in its sessions (the
/// reconcile's advisory lock, statement and lock timeouts, prepared
/// statements), which such a pooler hands from client to client. Two
/// connections ask for their backend's pid one after the other; a pooler
/// in transaction mode hands the second the server connection the first
/// just gave back. Never a false alarm (two open sessions cannot share a
/// pid); a pooler that spreads queries round-robin may go unnoticed.
/// Throws when the database cannot be reached.
bool sessions_are_shared(const db_settings& settings);

/// Watches the database from a thread of its own, so that /readyz answers
/// from memory and a flood of probes costs the database nothing. With
/// `migrate` set it also applies pending migrations as soon as the database
/// is reachable, which lets `serve` start before PostgreSQL does.
class readiness_monitor {
public:
  readiness_monitor(db_settings settings, bool migrate,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  ~readiness_monitor();
  readiness_monitor(const readiness_monitor&) = delete;
  readiness_monitor& operator=(const readiness_monitor&) = delete;

  readiness current() const;

  /// Checks once now, on the calling thread (used at start-up).
  readiness check_now();

  void stop();

private:
  void run();
  /// The schema version, and whether the database refuses writes; a
  /// failure drops the session, to connect again at the next check.
  int read_session(bool& read_only);
  /// Throws if a transaction-mode pooler shares one session among
  /// connections; asked once a connection.
  void check_not_pooled();
  /// Keeps `next` as the current state; logs a change of readiness.
  void publish(const readiness& next);

  db_settings settings_;
  std::unique_ptr<pg_session> session_;
  bool migrate_;
  bool pooling_checked_ = false; ///< sessions_are_shared() asked since the last connect
  std::chrono::milliseconds interval_;
  std::mutex check_mutex_; // one check at a time: the session is single-threaded
  mutable std::mutex mutex_;
  readiness state_;
  sync::background_loop loop_;
};

} // namespace shopmirror::db
