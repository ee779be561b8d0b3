#include "db/credential_store.hpp"

#include "db/errors.hpp"
#include "db/pg_session.hpp"

#include <pqxx/pqxx>

#include <stdexcept>

namespace shopmirror::db {
namespace {

constexpr const char* columns =
    "shop_domain, kind, access_token, "
    "to_char(access_expires_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "refresh_token, "
    "to_char(refresh_expires_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "scope, state, last_error, "
    "to_char(renewed_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), renewals";

std::optional<std::string> text(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<std::string>(f.c_str());
}

std::optional<std::string> bytes(const pqxx::field& f) {
  if (f.is_null()) {
    return std::nullopt;
  }
  const pqxx::binarystring b(f);
  return std::string(b.str());
}

std::optional<model::timestamp> time(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : model::parse_rfc3339(f.c_str());
}

stored_credentials read(const pqxx::row& r) {
  stored_credentials c;
  c.shop = r[0].c_str();
  c.kind = r[1].c_str();
  c.access_token = bytes(r[2]);
  c.access_expires_at = time(r[3]);
  c.refresh_token = bytes(r[4]);
  c.refresh_expires_at = time(r[5]);
  c.scope = text(r[6]);
  c.state = r[7].c_str();
  c.last_error = text(r[8]);
  c.renewed_at = time(r[9]);
  c.renewals = r[10].as<std::int64_t>();
  return c;
}

std::optional<std::string> time_text(const std::optional<model::timestamp>& t) {
  return t ? std::optional<std::string>(model::format_rfc3339(*t)) : std::nullopt;
}

/// Bytes as hex text (libpqxx 6 takes no optional binary parameter); the
/// statement decodes them.
std::optional<std::string> blob(const std::optional<std::string>& b) {
  if (!b) {
    return std::nullopt;
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(b->size() * 2);
  for (const char c : *b) {
    const auto byte = static_cast<unsigned char>(c);
    hex += digits[byte >> 4U];
    hex += digits[byte & 15U];
  }
  return hex;
}

void upsert(pqxx::transaction_base& tx, const stored_credentials& c) {
  tx.exec_params(
      "insert into shopmirror.admin_credentials as a (shop_domain, kind, access_token, "
      "access_expires_at, refresh_token, refresh_expires_at, scope, state, last_error, "
      "renewed_at, renewals, updated_at) values ($1, $2, decode($3, 'hex'), $4::timestamptz, "
      "decode($5, 'hex'), $6::timestamptz, $7, $8, $9, $10::timestamptz, $11, now()) "
      "on conflict (shop_domain) do update set kind = excluded.kind, "
      "access_token = excluded.access_token, access_expires_at = excluded.access_expires_at, "
      "refresh_token = excluded.refresh_token, refresh_expires_at = excluded.refresh_expires_at, "
      "scope = excluded.scope, state = excluded.state, last_error = excluded.last_error, "
      "renewed_at = excluded.renewed_at, renewals = excluded.renewals, updated_at = now()",
      c.shop, c.kind, blob(c.access_token), time_text(c.access_expires_at), blob(c.refresh_token),
      time_text(c.refresh_expires_at), c.scope, c.state, c.last_error, time_text(c.renewed_at),
      c.renewals);
}

std::optional<stored_credentials> select_row(pqxx::transaction_base& tx, const std::string& shop) {
  const pqxx::result rows =
      tx.exec_params(std::string("select ") + columns +
                         " from shopmirror.admin_credentials where shop_domain = $1",
                     shop);
  if (rows.empty()) {
    return std::nullopt;
  }
  return read(rows[0]);
}

// One key space per purpose; the shop picks the key in it.
constexpr const char* lock_sql =
    "select pg_advisory_xact_lock(hashtext('shopmirror.credentials'), hashtext($1))";

/// A database failure goes on as a database_error, classified once
/// (db/errors.hpp); what a renewal's own callback throws (Shopify refusing,
/// say) goes on as it is.
template <class F> auto wrap(const char* doing, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const pqxx::failure&) {
    rethrow_as_database_error(doing);
  }
}

} // namespace

credential_store::credential_store(db_settings settings) : settings_(std::move(settings)) {}

std::optional<stored_credentials> credential_store::load(const std::string& shop) const {
  return wrap("reading Admin API credentials", [&] {
    pqxx::connection connection(connection_string(settings_));
    limit_session(connection, limits_of(settings_));
    pqxx::nontransaction tx(connection);
    return select_row(tx, shop);
  });
}

std::vector<stored_credentials> credential_store::load_all() const {
  return wrap("reading Admin API credentials", [&] {
    pqxx::connection connection(connection_string(settings_));
    limit_session(connection, limits_of(settings_));
    pqxx::nontransaction tx(connection);
    std::vector<stored_credentials> out;
    for (const auto& row : tx.exec(std::string("select ") + columns +
                                   " from shopmirror.admin_credentials order by shop_domain")) {
      out.push_back(read(row));
    }
    return out;
  });
}

std::optional<stored_credentials>
credential_store::renew_locked(const std::string& shop,
                               const std::function<std::optional<stored_credentials>(
                                   const std::optional<stored_credentials>&)>& renew) const {
  return wrap("renewing Admin API credentials", [&] {
    pqxx::connection connection(connection_string(settings_));
    limit_session(connection, limits_of(settings_));
    pqxx::work tx(connection);
    // Whoever holds it may be talking to Shopify: a renewal takes seconds.
    tx.exec("set local lock_timeout = '120s'");
    tx.exec_params(lock_sql, shop);
    std::optional<stored_credentials> current = select_row(tx, shop);
    std::optional<stored_credentials> next = renew(current);
    if (!next) {
      tx.commit();
      return current;
    }
    // Committed before the caller uses the new token: a rotated refresh
    // token must never exist only in memory.
    upsert(tx, *next);
    tx.commit();
    return next;
  });
}

void credential_store::put(const stored_credentials& row) const {
  wrap("storing Admin API credentials", [&] {
    pqxx::connection connection(connection_string(settings_));
    limit_session(connection, limits_of(settings_));
    pqxx::work tx(connection);
    tx.exec_params(lock_sql, row.shop);
    upsert(tx, row);
    tx.commit();
    return 0;
  });
}

} // namespace shopmirror::db
