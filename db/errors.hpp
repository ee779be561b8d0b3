#pragma once

// The one place where database failures are classified: libpqxx exceptions
// become a failure here (errors.cpp), and every store throws that failure on
// as a database_error, so callers outside db/ answer from the kind and never
// see a pqxx type.

#include <stdexcept>
#include <string>
#include <string_view>

namespace shopmirror::db {

/// What a failed database call means for the caller.
enum class failure_kind {
  connection_lost, ///< drop the connection; retry later (503)
  transient,       ///< deadlock or serialization failure: retry now
  busy,            ///< statement timeout, full disk, schema not there: retry later
  row_locked,      ///< a row lock held elsewhere: isolate the item, then retry later
  bad_item,        ///< the data was refused (SQLSTATE class 22): isolate it
  bug,             ///< any other error: logged with its SQLSTATE, answered 500
};

/// True for the kinds that a later attempt may get past (the database was
/// unreachable, too slow or contended): answered 503, not 500.
bool retry_later(failure_kind kind) noexcept;

/// "connection_lost", "busy" ...: for a log line's field.
std::string_view to_string(failure_kind kind) noexcept;

struct failure {
  failure_kind kind = failure_kind::bug;
  std::string sqlstate; ///< empty where the server sent none (a lost connection)
  std::string message;
};

/// A database call that failed, classified: what was being done, and why.
/// what() reads "<doing>: <the database's message>".
class database_error : public std::runtime_error {
public:
  database_error(std::string_view doing, failure cause);

  const failure& cause() const noexcept { return cause_; }
  failure_kind kind() const noexcept { return cause_.kind; }
  const std::string& sqlstate() const noexcept { return cause_.sqlstate; }
  bool retry_later() const noexcept { return db::retry_later(cause_.kind); }

private:
  failure cause_;
};

/// Classifies the exception being handled (a database_error keeps its own
/// classification). Call only inside a catch block.
failure classify_current_exception();

/// Throws the exception being handled on as a database_error saying what
/// was being done (a database_error keeps its classification and message,
/// under the new `doing`). Call only inside a catch block.
[[noreturn]] void rethrow_as_database_error(std::string_view doing);

} // namespace shopmirror::db
