#include "db/maintenance.hpp"

#include "db/errors.hpp"
#include "db/pg_session.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>

namespace shopmirror::db {
namespace {

// A prune's batches (10,000 deletes each) and a replay's read (up to 100,000
// dead letters with their bodies) do more than a request's statement, and
// no client waits on them: they may take a minute, but not without bound (a
// prune that times out is taken up by the next one).
constexpr std::chrono::milliseconds bulk_statement_timeout{60000};

session_limits bulk_limits(const db_settings& settings) {
  return {std::max(settings.statement_timeout, bulk_statement_timeout), settings.lock_timeout};
}

constexpr const char* prune_lock_sql = "select pg_try_advisory_lock(hashtext('shopmirror.prune'))";

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) {
    return std::nullopt;
  }
  return std::string(field.c_str());
}

std::optional<model::timestamp> optional_time(const pqxx::field& field) {
  if (field.is_null()) {
    return std::nullopt;
  }
  return model::parse_rfc3339(field.c_str());
}

} // namespace

std::optional<std::uint64_t> prune_deliveries(const db_settings& settings,
                                              std::chrono::seconds retention) {
  try {
    pqxx::connection connection(connection_string(settings));
    limit_session(connection, bulk_limits(settings));
    pqxx::nontransaction tx(connection);
    if (!tx.exec1(prune_lock_sql)[0].as<bool>()) {
      return std::nullopt;
    }
    std::uint64_t total = 0;
    for (;;) {
      // Small batches keep locks and WAL bursts short on a busy log.
      const pqxx::result deleted =
          tx.exec_params("delete from shopify.webhook_deliveries where ctid = any(array("
                         "select ctid from shopify.webhook_deliveries "
                         "where received_at < now() - make_interval(secs => $1) limit 10000))",
                         static_cast<double>(retention.count()));
      total += static_cast<std::uint64_t>(deleted.affected_rows());
      if (deleted.affected_rows() < 10000) {
        break;
      }
    }
    tx.exec("select pg_advisory_unlock(hashtext('shopmirror.prune'))");
    return total;
  } catch (...) {
    rethrow_as_database_error("pruning the delivery log failed");
  }
}

std::vector<dead_letter_record> load_dead_letters(const db_settings& settings,
                                                  bool include_replayed,
                                                  const std::vector<std::int64_t>& ids,
                                                  std::size_t limit) {
  try {
    pqxx::connection connection(connection_string(settings));
    limit_session(connection, bulk_limits(settings));
    pqxx::nontransaction tx(connection);
    std::string id_list = "{";
    for (const auto id : ids) {
      id_list += (id_list.size() > 1 ? "," : "") + std::to_string(id);
    }
    id_list += "}";
    const pqxx::result rows = tx.exec_params(
        "select id, shop_domain, webhook_id, topic, "
        "to_char(received_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), reason, "
        "product_id, headers->>'X-Shopify-Event-Id', headers->>'X-Shopify-API-Version', "
        "headers->>'X-Shopify-Triggered-At', body, "
        "to_char(replayed_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), replay_outcome "
        "from shopify.dead_letters "
        "where (cardinality($1::bigint[]) = 0 or id = any($1::bigint[])) "
        "  and ($2 or cardinality($1::bigint[]) > 0 or replayed_at is null) "
        "order by id limit $3",
        id_list, include_replayed, static_cast<std::int64_t>(limit));
    std::vector<dead_letter_record> out;
    for (const auto& row : rows) {
      dead_letter_record r;
      r.id = row[0].as<std::int64_t>();
      r.meta.shop_domain = row[1].c_str();
      r.meta.webhook_id = row[2].c_str();
      r.meta.topic = row[3].c_str();
      r.meta.received_at = model::parse_rfc3339(row[4].c_str()).value_or(model::timestamp{});
      r.reason = row[5].c_str();
      r.meta.event_id = optional_text(row[7]);
      r.meta.api_version = optional_text(row[8]);
      r.meta.triggered_at = optional_time(row[9]);
      r.body = pqxx::binarystring(row[10]).str();
      r.replayed_at = optional_text(row[11]);
      r.replay_outcome = optional_text(row[12]);
      out.push_back(std::move(r));
    }
    return out;
  } catch (...) {
    rethrow_as_database_error("reading dead letters failed");
  }
}

void mark_replayed(const db_settings& settings, std::int64_t id, std::string_view outcome) {
  try {
    pqxx::connection connection(connection_string(settings));
    limit_session(connection, limits_of(settings));
    pqxx::nontransaction tx(connection);
    tx.exec_params("update shopify.dead_letters set replayed_at = now(), replay_outcome = $2 "
                   "where id = $1",
                   id, std::string(outcome));
  } catch (...) {
    rethrow_as_database_error("recording a replay failed");
  }
}

} // namespace shopmirror::db
