#include "db/shop_erasure.hpp"

#include "db/errors.hpp"
#include "db/pg_session.hpp"

#include <pqxx/pqxx>

namespace shopmirror::db {
namespace {

// The reconcile's lock of a shop (db/reconcile_store.cpp): where one
// changes, so must the other.
constexpr const char* lock_sql =
    "select pg_try_advisory_lock(hashtext('shopmirror.reconcile'), hashtext($1))";
constexpr const char* unlock_sql =
    "select pg_advisory_unlock(hashtext('shopmirror.reconcile'), hashtext($1))";

/// Runs `f`; a database failure becomes its message (with the SQLSTATE),
/// and a lost connection is dropped so the next call reopens it.
template <class F> std::string guarded(pg_session& session, F&& f) {
  try {
    f();
    return {};
  } catch (...) {
    const failure fault = classify_current_exception();
    if (fault.kind == failure_kind::connection_lost) {
      session.reset();
    }
    return fault.sqlstate.empty() ? fault.message
                                  : fault.message + " (SQLSTATE " + fault.sqlstate + ")";
  }
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) {
    return std::nullopt;
  }
  return std::string(field.c_str());
}

} // namespace

erasure_store::erasure_store(db_settings database, erasure_settings settings)
    : settings_(settings), session_(std::make_unique<pg_session>(
                               std::move(database), std::vector<prepared_statement>{})) {}

erasure_store::~erasure_store() = default;

or_error<std::optional<shop_redaction>> erasure_store::claim() {
  or_error<std::optional<shop_redaction>> out;
  out.error = guarded(*session_, [&] {
    pqxx::work tx(session_->connection());
    const pqxx::result rows =
        tx.exec_params("with due as ("
                       "  select id from shopify.shop_redactions "
                       "  where finished_at is null and not_before <= now() "
                       "  order by id limit 1 for update skip locked) "
                       "update shopify.shop_redactions r "
                       "set not_before = now() + make_interval(secs => $1), "
                       "    started_at = coalesce(r.started_at, now()) "
                       "from due where r.id = due.id "
                       "returning r.id, r.shop_domain, r.webhook_id, r.attempts",
                       static_cast<double>(settings_.lease.count()));
    tx.commit();
    if (!rows.empty()) {
      out.value = shop_redaction{rows[0][0].as<std::int64_t>(), rows[0][1].c_str(),
                                 rows[0][2].c_str(), rows[0][3].as<int>()};
    }
  });
  return out;
}

or_error<bool> erasure_store::lock_shop(const std::string& shop) {
  or_error<bool> out;
  out.error = guarded(*session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    out.value = tx.exec_params1(lock_sql, shop)[0].as<bool>();
  });
  return out;
}

void erasure_store::unlock_shop(const std::string& shop) noexcept {
  if (!session_->connected()) {
    return; // the lock went with the connection
  }
  (void)guarded(*session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    tx.exec_params(unlock_sql, shop);
  });
}

erasure_step erasure_store::step(const shop_redaction& redaction) {
  erasure_step out;
  out.error = guarded(*session_, [&] {
    // One statement in autocommit: each step is its own transaction.
    pqxx::nontransaction tx(session_->connection());
    const pqxx::result rows =
        tx.exec_params("select erased_table, erased_rows "
                       "from shopify.erase_shop_step($1, $2, make_interval(secs => $3))",
                       redaction.id, static_cast<std::int64_t>(settings_.batch_rows),
                       static_cast<double>(settings_.lease.count()));
    if (rows.empty()) {
      out.finished = true; // finished meanwhile (by another replica)
      return;
    }
    out.table = rows[0][0].c_str();
    out.rows = rows[0][1].as<std::int64_t>();
    out.finished = out.rows == 0;
  });
  return out;
}

std::string erasure_store::record_failure(const shop_redaction& redaction,
                                          const std::string& error) {
  return guarded(*session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    tx.exec_params(
        "update shopify.shop_redactions "
        "set attempts = attempts + 1, last_error = $2, "
        "    not_before = now() + least(interval '1 hour', "
        "                               interval '1 second' * power(2, least(attempts, 12))) "
        "where id = $1 and finished_at is null",
        redaction.id, error);
  });
}

void erasure_store::postpone(const shop_redaction& redaction, std::chrono::seconds delay) noexcept {
  (void)guarded(*session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    tx.exec_params("update shopify.shop_redactions "
                   "set not_before = now() + make_interval(secs => $2) "
                   "where id = $1 and finished_at is null",
                   redaction.id, static_cast<double>(delay.count()));
  });
}

or_error<std::optional<redaction_record>> erasure_store::find(std::int64_t id) {
  or_error<std::optional<redaction_record>> out;
  out.error = guarded(*session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    const pqxx::result rows = tx.exec_params(
        "select id, shop_domain, webhook_id, "
        "to_char(requested_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "erased::text, (select coalesce(sum(value::bigint), 0) from jsonb_each_text(erased)), "
        "attempts, last_error, "
        "coalesce(extract(epoch from finished_at - started_at), 0)::float8 "
        "from shopify.shop_redactions where id = $1",
        id);
    if (rows.empty()) {
      return;
    }
    const pqxx::row row = rows[0];
    redaction_record r;
    r.id = row[0].as<std::int64_t>();
    r.shop = row[1].c_str();
    r.webhook_id = row[2].c_str();
    r.requested_at = row[3].c_str();
    r.finished_at = optional_text(row[4]);
    r.erased = row[5].c_str();
    r.erased_rows = row[6].as<std::int64_t>();
    r.attempts = row[7].as<int>();
    r.last_error = optional_text(row[8]);
    r.seconds = row[9].as<double>();
    out.value = std::move(r);
  });
  return out;
}

or_error<erasure_backlog> erasure_store::backlog() {
  or_error<erasure_backlog> out;
  out.error = guarded(*session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    const pqxx::row row = tx.exec1("select count(*) filter (where last_error is null), "
                                   "count(*) filter (where last_error is not null) "
                                   "from shopify.shop_redactions where finished_at is null");
    out.value = {row[0].as<std::int64_t>(), row[1].as<std::int64_t>()};
  });
  return out;
}

} // namespace shopmirror::db
