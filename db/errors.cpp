#include "db/errors.hpp"

#include <pqxx/pqxx>

#include <exception>
#include <utility>

namespace shopmirror::db {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

failure_kind kind_of(const std::string& state) {
  const std::string cls = state.substr(0, 2);
  if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
    return failure_kind::connection_lost; // connection exceptions and shutdowns
  }
  if (state == "40001" || state == "40P01") {
    return failure_kind::transient;
  }
  if (state == "55P03") {
    return failure_kind::row_locked;
  }
  if (state == "57014" || cls == "53" || state == "25006" || state == "42P01" || state == "42883" ||
      state == "3F000") {
    // Timeouts, lock waits, resources, a read-only standby, or a schema that
    // is not there yet: nothing is wrong with the request.
    return failure_kind::busy;
  }
  if (cls == "22") {
    return failure_kind::bad_item;
  }
  return failure_kind::bug;
}

} // namespace

bool retry_later(failure_kind kind) noexcept {
  switch (kind) {
  case failure_kind::connection_lost:
  case failure_kind::transient:
  case failure_kind::busy:
  case failure_kind::row_locked:
    return true;
  case failure_kind::bad_item:
  case failure_kind::bug:
    break;
  }
  return false;
}

std::string_view to_string(failure_kind kind) noexcept {
  switch (kind) {
  case failure_kind::connection_lost:
    return "connection_lost";
  case failure_kind::transient:
    return "transient";
  case failure_kind::busy:
    return "busy";
  case failure_kind::row_locked:
    return "row_locked";
  case failure_kind::bad_item:
    return "bad_item";
  case failure_kind::bug:
    break;
  }
  return "bug";
}

database_error::database_error(std::string_view doing, failure cause)
    : std::runtime_error(std::string(doing) + ": " + cause.message), cause_(std::move(cause)) {}

failure classify_current_exception() {
  try {
    throw;
  } catch (const database_error& e) {
    return e.cause();
  } catch (const pqxx::broken_connection& e) {
    return {failure_kind::connection_lost, "", trimmed(e.what())};
  } catch (const pqxx::in_doubt_error& e) {
    // The commit may or may not have happened; every write is idempotent,
    // so the retry Shopify makes is safe either way.
    return {failure_kind::connection_lost, "", trimmed(e.what())};
  } catch (const pqxx::deadlock_detected& e) {
    return {failure_kind::transient, "40P01", trimmed(e.what())};
  } catch (const pqxx::serialization_failure& e) {
    return {failure_kind::transient, "40001", trimmed(e.what())};
  } catch (const pqxx::statement_completion_unknown& e) {
    return {failure_kind::connection_lost, "", trimmed(e.what())};
  } catch (const pqxx::transaction_rollback& e) {
    return {failure_kind::transient, "40000", trimmed(e.what())};
  } catch (const pqxx::sql_error& e) {
    return {kind_of(e.sqlstate()), e.sqlstate(), trimmed(e.what())};
  } catch (const pqxx::failure& e) {
    return {failure_kind::connection_lost, "", trimmed(e.what())};
  } catch (const std::exception& e) {
    return {failure_kind::bug, "", trimmed(e.what())};
  }
}

void rethrow_as_database_error(std::string_view doing) {
  throw database_error(doing, classify_current_exception());
}

} // namespace shopmirror::db
