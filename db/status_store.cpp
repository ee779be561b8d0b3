#include "db/status_store.hpp"

#include "db/errors.hpp"
#include "db/run_rows.hpp"
#include "telemetry/log.hpp"

#include <pqxx/pqxx>

#include <algorithm>

namespace shopmirror::db {
namespace {

/// A timestamptz column as RFC 3339 text in UTC, as optional_time reads it.
std::string utc(const std::string& column) {
  return "to_char(" + column + " at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

// $1 is the one shop asked for, or null for all. Each range on received_at
// is what lets the planner use the BRIN index: the delivery log holds
// millions of rows, every other table here a few per shop.
const std::string& last_hour_sql() {
  static const std::string sql =
      "select shop_domain, outcome, count(*), " + utc("max(received_at)") +
      " from shopify.webhook_deliveries"
      " where received_at > now() - interval '1 hour' and ($1::text is null or shop_domain = $1)"
      " group by shop_domain, outcome";
  return sql;
}

const std::string& last_day_sql() {
  static const std::string sql =
      "select shop_domain, " + utc("max(received_at)") +
      " from shopify.webhook_deliveries"
      " where received_at > now() - make_interval(hours => $2)"
      " and received_at <= now() - interval '1 hour' and ($1::text is null or shop_domain = $1)"
      " group by shop_domain";
  return sql;
}

// The newest runs of each shop, through reconcile_runs_by_shop.
const std::string& runs_sql() {
  static const std::string sql =
      std::string("select ") + run_columns +
      " from (select r.* from (select distinct shop_domain from shopify.reconcile_runs"
      "                        where $1::text is null or shop_domain = $1) s"
      "       cross join lateral (select * from shopify.reconcile_runs r"
      "                           where r.shop_domain = s.shop_domain"
      "                           order by r.id desc limit $2) r) runs"
      " order by shop_domain, id desc";
  return sql;
}

const std::string& dead_letters_sql() {
  static const std::string sql = "select shop_domain, count(*), " + utc("min(received_at)") +
                                 " from shopify.dead_letters where replayed_at is null"
                                 " and ($1::text is null or shop_domain = $1) group by shop_domain";
  return sql;
}

const std::string& refreshes_sql() {
  static const std::string sql =
      "select shop_domain, count(*) filter (where last_error is null),"
      " count(*) filter (where last_error is not null)"
      " from shopify.product_refresh_requests where $1::text is null or shop_domain = $1"
      " group by shop_domain";
  return sql;
}

// shopify.shop_installed (0008_compliance.sql) turned around: the shops uninstalled now.
const std::string& uninstalled_sql() {
  static const std::string sql = "select shop_domain, " + utc("uninstalled_at") +
                                 " from shopify.shop_installations where uninstalled_at is not null"
                                 " and (reinstalled_at is null or reinstalled_at <= uninstalled_at)"
                                 " and ($1::text is null or shop_domain = $1)";
  return sql;
}

const std::string& credentials_sql() {
  static const std::string sql =
      "select shop_domain, kind, state, " + utc("access_expires_at") + ", " +
      utc("refresh_expires_at") + ", " + utc("renewed_at") +
      ", last_error from shopmirror.admin_credentials where $1::text is null or shop_domain = $1";
  return sql;
}

std::optional<std::string> text_of(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<std::string>(f.c_str());
}

/// The shops' entries, made on first mention, kept in domain order.
class shop_table {
public:
  shop_status& operator[](const std::string& shop) {
    auto [it, added] = shops_.try_emplace(shop);
    if (added) {
      it->second.shop = shop;
    }
    return it->second;
  }
  std::vector<shop_status> take() {
    std::vector<shop_status> out;
    out.reserve(shops_.size());
    for (auto& [_, status] : shops_) {
      out.push_back(std::move(status));
    }
    return out;
  }

private:
  std::map<std::string, shop_status> shops_;
};

/// The configured shops (or the one asked for) have an entry even when no
/// table mentions them.
shop_table configured_shops(const std::vector<std::string>& configured,
                            const std::optional<std::string>& only) {
  shop_table shops;
  for (const auto& shop : configured) {
    if (!only || *only == shop) {
      shops[shop];
    }
  }
  if (only) {
    shops[*only];
  }
  return shops;
}

void read_last_hour(pqxx::transaction_base& tx, const std::optional<std::string>& only,
                    shop_table& shops) {
  for (const auto& row : tx.exec_params(last_hour_sql(), only)) {
    auto& s = shops[row[0].c_str()];
    s.deliveries_last_hour[row[1].c_str()] = row[2].as<std::int64_t>();
    const auto newest = optional_time(row[3]);
    if (newest && (!s.last_delivery_at || *s.last_delivery_at < *newest)) {
      s.last_delivery_at = newest;
    }
  }
}

/// Reads the shops' credentials if this role may; returns whether it may.
bool read_credentials(pqxx::transaction_base& tx, const std::optional<std::string>& only,
                      shop_table& shops) {
  const bool readable = tx.exec1("select has_schema_privilege('shopmirror', 'usage') and "
                                 "has_table_privilege('shopmirror.admin_credentials', 'select')")[0]
                            .as<bool>();
  for (const auto& row : readable ? tx.exec_params(credentials_sql(), only) : pqxx::result{}) {
    credentials_status c;
    c.kind = row[1].c_str();
    c.state = row[2].c_str();
    c.access_expires_at = optional_time(row[3]);
    c.refresh_expires_at = optional_time(row[4]);
    c.renewed_at = optional_time(row[5]);
    c.last_error = text_of(row[6]);
    shops[row[0].c_str()].credentials = std::move(c);
  }
  return readable;
}

/// The last delivery of the shops that had none in the last hour.
void read_quiet_shops(pqxx::transaction_base& tx, const std::optional<std::string>& only,
                      std::vector<shop_status>& shops) {
  // The older look-back reads a day of the log: only when a shop needs it.
  const bool any_quiet = std::any_of(shops.begin(), shops.end(),
                                     [](const shop_status& s) { return !s.last_delivery_at; });
  if (!any_quiet) {
    return;
  }
  for (const auto& row : tx.exec_params(last_day_sql(), only, status_lookback_hours)) {
    for (auto& s : shops) {
      if (s.shop == row[0].c_str() && !s.last_delivery_at) {
        s.last_delivery_at = optional_time(row[1]);
      }
    }
  }
}

status_report read_snapshot(const db_settings& settings, const std::vector<std::string>& configured,
                            const std::optional<std::string>& only) {
  pqxx::connection connection(connection_string(settings));
  // One snapshot: every number on the page is of the same moment.
  pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::read_only> tx(connection);
  tx.exec_params("select set_config('statement_timeout', $1, true)",
                 std::to_string(settings.statement_timeout.count()));

  status_report report;
  report.as_of = optional_time(tx.exec1("select " + utc("now()"))[0]).value_or(model::timestamp{});
  shop_table shops = configured_shops(configured, only);

  read_last_hour(tx, only, shops);
  for (const auto& row : tx.exec_params(runs_sql(), only, static_cast<std::int64_t>(status_runs))) {
    run_record run = read_run(row);
    shops[run.shop].runs.push_back(std::move(run));
  }
  for (const auto& row : tx.exec_params(dead_letters_sql(), only)) {
    auto& s = shops[row[0].c_str()];
    s.dead_letters_pending = row[1].as<std::int64_t>();
    s.oldest_dead_letter_at = optional_time(row[2]);
  }
  for (const auto& row : tx.exec_params(refreshes_sql(), only)) {
    auto& s = shops[row[0].c_str()];
    s.refreshes_due = row[1].as<std::int64_t>();
    s.refreshes_failing = row[2].as<std::int64_t>();
  }
  for (const auto& row : tx.exec_params(uninstalled_sql(), only)) {
    shops[row[0].c_str()].uninstalled_at = optional_time(row[1]);
  }
  report.credentials_readable = read_credentials(tx, only, shops);
  report.shops = shops.take();
  read_quiet_shops(tx, only, report.shops);
  tx.commit();
  return report;
}

/// To the second: a sentence for a person.
std::string when(const std::optional<model::timestamp>& t) {
  if (!t) {
    return "unknown";
  }
  std::string text = model::format_rfc3339(*t).substr(0, 19);
  text[10] = ' ';
  return text + " UTC";
}

} // namespace

std::vector<std::pair<std::string, std::string>> status_delivery_log_statements() {
  return {{"last hour", last_hour_sql()}, {"last day", last_day_sql()}};
}

std::vector<const run_record*> shop_status::held_runs() const {
  std::vector<const run_record*> out;
  for (const auto& run : runs) {
    if (run.status == run_status::held) {
      out.push_back(&run);
    }
  }
  return out;
}

std::vector<std::string> shop_status::attention() const {
  std::vector<std::string> out;
  for (const auto* run : held_runs()) {
    out.push_back("reconcile run " + std::to_string(run->id) + " held a sweep of " +
                  std::to_string(run->held_sweep.value_or(0)) +
                  " products: confirm it (shopmirror reconcile --confirm-sweep " +
                  std::to_string(run->id) + ") or find why the listing shrank");
  }
  // Only the newest finished run says how reconcile stands now.
  const auto finished = std::find_if(runs.begin(), runs.end(), [](const run_record& r) {
    return r.status != run_status::running;
  });
  if (finished != runs.end() && is_failure(finished->status)) {
    out.push_back("the last reconcile run (" + std::to_string(finished->id) + ") " +
                  std::string(to_string(finished->status)) +
                  (finished->error ? ": " + *finished->error : std::string()));
  }
  if (finished != runs.end() && finished->failed > 0) {
    out.push_back("reconcile run " + std::to_string(finished->id) + " could not read or apply " +
                  std::to_string(finished->failed) + " products");
  }
  if (dead_letters_pending > 0) {
    out.push_back(
        dead_letters_pending == 1
            ? "1 dead letter waits for a replay (since " + when(oldest_dead_letter_at) + ")"
            : std::to_string(dead_letters_pending) + " dead letters wait for a replay (oldest " +
                  when(oldest_dead_letter_at) + ")");
  }
  if (refreshes_failing > 0) {
    out.push_back(refreshes_failing == 1
                      ? std::string("1 product refresh is failing")
                      : std::to_string(refreshes_failing) + " product refreshes are failing");
  }
  if (uninstalled_at) {
    out.push_back("the app is uninstalled from the shop (since " + when(uninstalled_at) + ")");
  }
  if (credentials && credentials->state != "active") {
    out.push_back("the Admin API credentials were " + credentials->state +
                  (credentials->last_error ? ": " + *credentials->last_error : std::string()));
  }
  return out;
}

status_reading read_status(const db_settings& settings, const std::vector<std::string>& configured,
                           const std::optional<std::string>& only) {
  status_reading reading;
  try {
    reading.report = read_snapshot(settings, configured, only);
  } catch (...) {
    const failure f = classify_current_exception();
    reading.error = f.message;
    reading.failure = retry_later(f.kind) ? status_failure::unavailable : status_failure::error;
    telemetry::log_event(telemetry::level::warn, "status_unreadable")
        .field("sqlstate", f.sqlstate)
        .field("error", f.message);
  }
  return reading;
}

} // namespace shopmirror::db
