#pragma once

// Internal to db/: the one place where libpqxx exceptions become outcomes.

#include <string>

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

struct failure {
  failure_kind kind = failure_kind::bug;
  std::string sqlstate;
  std::string message;
};

/// Classifies the exception being handled. Call only inside a catch block.
failure classify_current_exception();

} // namespace shopmirror::db
