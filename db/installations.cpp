#include "db/installations.hpp"

#include "db/errors.hpp"
#include "db/pg_session.hpp"

#include <pqxx/pqxx>

namespace shopmirror::db {

shop_installation read_installation(const db_settings& settings, const std::string& shop) {
  try {
    // A trigger's request reads it: bounded like every store connection.
    pg_session session(settings, {});
    pqxx::nontransaction tx(session.connection());
    const pqxx::row row = tx.exec_params1(
        "select shopify.shop_installed($1), "
        "to_char(i.uninstalled_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "to_char(i.reinstalled_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "from (select 1) one "
        "left join shopify.shop_installations i on i.shop_domain = $1",
        shop);
    shop_installation out;
    out.installed = row[0].as<bool>();
    if (!row[1].is_null()) {
      out.uninstalled_at = row[1].c_str();
    }
    if (!row[2].is_null()) {
      out.reinstalled_at = row[2].c_str();
    }
    return out;
  } catch (...) {
    rethrow_as_database_error("reading whether the app is installed on " + shop);
  }
}

bool shop_installed(const db_settings& settings, const std::string& shop) {
  return read_installation(settings, shop).installed;
}

} // namespace shopmirror::db
