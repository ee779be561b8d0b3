#include "db/reconcile_store.hpp"

#include "db/errors.hpp"
#include "db/pg_session.hpp"
#include "db/product_columns.hpp"
#include "db/run_rows.hpp"

#include <pqxx/pqxx>

#include <stdexcept>

namespace shopmirror::db {
namespace {

constexpr const char* apply_statement = "shopmirror_reconcile_apply";

// Must match the signature of shopify.reconcile_apply (0011_apply_inputs.sql);
// the records as in db/delivery_store.cpp. Run 0 stands for none (a refresh
// outside any run).
constexpr const char* apply_sql =
    "select inserted, updated, unchanged, revived from shopify.reconcile_apply("
    "nullif($1::bigint, 0), $2::text, $3::boolean, $4::shopify.product_input[], "
    "$5::shopify.variant_input[])";

constexpr const char* failures_statement = "shopmirror_reconcile_failures";

// Failed products are seen, so never swept: a product that cannot be read
// is still listed.
constexpr const char* failures_sql =
    "with failed as ("
    "  insert into shopify.reconcile_failures (run_id, product_id, reason) "
    "  select $1::bigint, f.id, f.reason "
    "  from unnest($2::bigint[], $3::text[]) as f(id, reason) returning product_id) "
    "insert into shopify.reconcile_seen (run_id, product_id) "
    "select $1::bigint, product_id from failed where product_id is not null "
    "on conflict do nothing";

// One advisory-lock key space per purpose; the shop picks the key in it.
// A shop's erasure (db/shop_erasure.cpp) takes the same lock: where one
// changes, so must the other.
constexpr const char* lock_sql =
    "select pg_try_advisory_lock(hashtext('shopmirror.reconcile'), hashtext($1))";
// Transaction-scoped: held only while a run of the shop is being begun.
constexpr const char* begin_lock_sql =
    "select pg_advisory_xact_lock(hashtext('shopmirror.reconcile_begin'), hashtext($1))";
constexpr const char* unlock_sql =
    "select pg_advisory_unlock(hashtext('shopmirror.reconcile'), hashtext($1))";

std::optional<std::string> time_text(const std::optional<model::timestamp>& t) {
  if (!t) {
    return std::nullopt;
  }
  return model::format_rfc3339(*t);
}

/// The parameters of reconcile_apply, in the binary format: the run (0 for
/// none), the shop, whether it is a dry run, then the batch.
std::vector<std::string> apply_parameters(std::int64_t run_id, const std::string& shop,
                                          bool dry_run, std::span<const listed_product> products,
                                          model::timestamp observed, input_types types) {
  product_columns columns(types);
  std::int64_t slot = 1;
  for (const auto& product : products) {
    columns.add_state(product.state, product.source, observed, slot++);
  }
  std::vector<std::string> values;
  values.reserve(5);
  values.push_back(binary_int8(run_id));
  values.push_back(shop);
  values.push_back(std::string(1, dry_run ? '\1' : '\0')); // a boolean's binary form
  columns.take_into(values);
  return values;
}

/// Runs a database call; a failure goes on as a database_error saying what
/// was being done, classified once (db/errors.hpp). A lost connection is
/// dropped from the session, so that its next call reconnects.
template <class F> auto wrap(const char* doing, pg_session& session, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const sweep_refused&) {
    throw; // the database answered: a refusal, not a failure
  } catch (...) {
    failure cause = classify_current_exception();
    if (cause.kind == failure_kind::connection_lost) {
      session.reset();
    }
    throw database_error(doing, std::move(cause));
  }
}

/// A read on a connection of its own, set up like every store connection
/// (pg_session: statement and lock timeouts), since GET /reconcile/runs
/// makes these reads on every request and must not wait on them unbounded.
template <class F> auto read_apart(const char* doing, const db_settings& settings, F&& f) {
  pg_session session(settings, {});
  return wrap(doing, session, [&] {
    pqxx::nontransaction tx(session.connection());
    return f(tx);
  });
}

} // namespace

reconcile_store::reconcile_store(db_settings settings)
    : session_(std::make_unique<pg_session>(
          std::move(settings),
          std::vector<prepared_statement>{{apply_statement, apply_sql},
                                          {failures_statement, failures_sql}},
          [this](pqxx::connection& connection) {
            pqxx::nontransaction tx(connection);
            types_ = lookup_input_types(tx);
          })) {}

reconcile_store::~reconcile_store() = default;

std::optional<run_record> reconcile_store::try_begin(const run_request& request) {
  return wrap("starting a reconcile run", *session_, [&]() -> std::optional<run_record> {
    pqxx::connection& connection = session_->connection();
    bool locked = false;
    try {
      pqxx::work tx(connection);
      // Those beginning a run of the shop take turns for the moment it
      // takes: one that then finds the shop's lock taken finds the run's
      // row committed too (running_run), never the gap between the two.
      tx.exec_params(begin_lock_sql, request.shop);
      locked = tx.exec_params1(lock_sql, request.shop)[0].as<bool>();
      if (!locked) {
        tx.commit();
        return std::nullopt;
      }
      // Holding the lock, no live session is running this shop: any run still
      // marked running was cut short.
      tx.exec_params("with cut as (update shopify.reconcile_runs set status = 'interrupted', "
                     "finished_at = now(), error = 'the process running it stopped' "
                     "where shop_domain = $1 and status = 'running' returning id) "
                     "delete from shopify.reconcile_seen where run_id in (select id from cut)",
                     request.shop);
      // clock_timestamp(): the start must be later than anything this
      // session wrote before it, for the sweep's "last written before".
      const int holder = tx.exec1("select pg_backend_pid()")[0].as<int>();
      const pqxx::row row = tx.exec_params1(
          std::string("insert into shopify.reconcile_runs "
                      "(shop_domain, trigger, mode, since, dry_run, max_sweep, started_at) "
                      "values ($1, $2, $3, $4::timestamptz, $5, $6, clock_timestamp()) "
                      "returning ") +
              run_columns,
          request.shop, std::string(to_string(request.trigger)),
          std::string(to_string(request.mode)), time_text(request.since), request.dry_run,
          request.max_sweep);
      run_record run = read_run(row);
      tx.commit();
      lock_holder_ = holder;
      return run;
    } catch (...) {
      // The session's lock outlives a rolled-back transaction: let it go.
      if (locked) {
        try {
          pqxx::nontransaction undo(connection);
          undo.exec_params(unlock_sql, request.shop);
        } catch (...) {
          session_->reset(); // a lost connection took the lock with it
        }
      }
      throw;
    }
  });
}

drift reconcile_store::apply(const run_record& run, std::span<const listed_product> products,
                             model::timestamp observed) {
  if (products.empty()) {
    return {};
  }
  try {
    pqxx::nontransaction tx(session_->connection());
    const auto values = apply_parameters(run.id, run.shop, run.dry_run, products, observed, types_);
    const pqxx::row row = exec_binary(tx, apply_statement, values).at(0);
    return drift{static_cast<std::int64_t>(products.size()), row[0].as<std::int64_t>(),
                 row[1].as<std::int64_t>(), row[2].as<std::int64_t>(), row[3].as<std::int64_t>()};
  } catch (...) {
    const failure f = classify_current_exception();
    if (f.kind != failure_kind::bad_item && f.kind != failure_kind::bug) {
      // The database, not a product, is at fault: the run fails (and
      // sweeps nothing); the next one starts over.
      if (f.kind == failure_kind::connection_lost) {
        session_->reset();
      }
      throw database_error("applying listed products", f);
    }
    if (products.size() == 1) {
      const failed_product failed{products.front().state.id,
                                  "refused by the database: " + f.message};
      record_failures(run, std::span(&failed, 1));
      drift d;
      d.listed = 1;
      d.failed = 1;
      return d;
    }
    // One product is at fault: halves until it stands alone, so that the
    // rest of the batch applies.
    const std::size_t half = products.size() / 2;
    drift d = apply(run, products.first(half), observed);
    d += apply(run, products.subspan(half), observed);
    return d;
  }
}

void reconcile_store::record_failures(const run_record& run,
                                      std::span<const failed_product> failures) {
  if (failures.empty() || run.id == 0) {
    return;
  }
  binary_array ids(pg_element::int8);
  binary_array reasons(pg_element::text);
  for (const auto& failure : failures) {
    ids.add(failure.product_id);
    reasons.add(failure.reason);
  }
  const std::vector<std::string> values{binary_int8(run.id), ids.take(), reasons.take()};
  wrap("recording products that failed", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    exec_binary(tx, failures_statement, values);
    return 0;
  });
}

void reconcile_store::check_lock() {
  wrap("checking the reconcile lock", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    // The lock lives in the session that began the run: if the connection
    // was lost (and quietly reopened) meanwhile, another replica may have
    // taken the shop, and this run must not go on, let alone sweep.
    if (tx.exec1("select pg_backend_pid()")[0].as<int>() != lock_holder_) {
      throw database_error("checking the reconcile lock",
                           {failure_kind::connection_lost, "",
                            "the connection holding the shop's reconcile lock was lost"});
    }
  });
}

run_record reconcile_store::finish(const run_record& run, const drift& listed) {
  check_lock();
  return wrap("finishing a reconcile run", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    std::optional<std::string> hold;
    if (listed.unidentified > 0) {
      hold = std::to_string(listed.unidentified) +
             " listed objects could not be told apart, so the listing may lack products it "
             "holds";
    }
    tx.exec_params("select shopify.reconcile_finish($1, $2, $3, $4, $5, $6, $7, $8)", run.id,
                   listed.listed, listed.inserted, listed.updated, listed.unchanged, listed.revived,
                   listed.failed, hold);
    tx.exec_params(unlock_sql, run.shop);
    return read_run(tx.exec_params1(std::string("select ") + run_columns +
                                        " from shopify.reconcile_runs where id = $1",
                                    run.id));
  });
}

run_record reconcile_store::confirm_sweep(std::int64_t run_id) {
  return wrap("confirming a held sweep", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    const pqxx::result found = tx.exec_params(std::string("select ") + run_columns +
                                                  " from shopify.reconcile_runs where id = $1",
                                              run_id);
    if (found.empty()) {
      throw sweep_refused("there is no reconcile run " + std::to_string(run_id));
    }
    const run_record run = read_run(found[0]);
    if (!tx.exec_params1(lock_sql, run.shop)[0].as<bool>()) {
      throw sweep_refused("a reconcile run of " + run.shop +
                          " is in progress; confirm when it has ended");
    }
    try {
      tx.exec_params("select shopify.reconcile_confirm_sweep($1)", run_id);
    } catch (const pqxx::sql_error& e) {
      tx.exec_params(unlock_sql, run.shop);
      // P0001/P0002: reconcile_confirm_sweep refusing, with its reason.
      if (e.sqlstate() != "P0001" && e.sqlstate() != "P0002") {
        throw;
      }
      std::string message = e.what();
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
        message.pop_back();
      }
      throw sweep_refused(
          message.substr(message.find(':') == std::string::npos ? 0 : message.find(':') + 2));
    }
    tx.exec_params(unlock_sql, run.shop);
    return read_run(tx.exec_params1(std::string("select ") + run_columns +
                                        " from shopify.reconcile_runs where id = $1",
                                    run_id));
  });
}

void reconcile_store::fail(const run_record& run, const std::string& error) noexcept {
  try {
    pqxx::nontransaction tx(session_->connection());
    tx.exec_params("update shopify.reconcile_runs set status = 'failed', finished_at = now(), "
                   "error = $2 where id = $1 and status = 'running'",
                   run.id, error);
    tx.exec_params("delete from shopify.reconcile_seen where run_id = $1", run.id);
    tx.exec_params(unlock_sql, run.shop);
  } catch (...) {
    // The database is gone: dropping the connection releases the lock, and
    // the next run of the shop marks this one interrupted.
    session_->reset();
  }
}

void reconcile_store::apply_single(const std::string& shop, const listed_product& product,
                                   model::timestamp observed) {
  wrap("applying a refreshed product", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    const auto values = apply_parameters(0, shop, false, std::span(&product, 1), observed, types_);
    exec_binary(tx, apply_statement, values);
    return 0;
  });
}

std::vector<refresh_request> reconcile_store::claim_refreshes(std::size_t limit) {
  return wrap("claiming refresh requests", *session_, [&] {
    pqxx::work tx(session_->connection());
    const pqxx::result rows = tx.exec_params(
        "with due as ("
        "  select shop_domain, product_id from shopify.product_refresh_requests "
        "  where not_before <= now() and shopify.shop_installed(shop_domain) "
        "  order by requested_at limit $1 for update skip locked) "
        "update shopify.product_refresh_requests r "
        "set not_before = now() + interval '60 seconds', attempts = r.attempts + 1 "
        "from due where r.shop_domain = due.shop_domain and r.product_id = due.product_id "
        "returning r.shop_domain, r.product_id, r.requested_at::text, r.attempts",
        static_cast<std::int64_t>(limit));
    tx.commit();
    std::vector<refresh_request> out;
    for (const auto& row : rows) {
      out.push_back(refresh_request{row[0].c_str(), row[1].as<std::int64_t>(), row[2].c_str(),
                                    row[3].as<int>()});
    }
    return out;
  });
}

void reconcile_store::complete_refresh(const refresh_request& request) {
  wrap("completing a refresh request", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    tx.exec_params("delete from shopify.product_refresh_requests "
                   "where shop_domain = $1 and product_id = $2 and requested_at = $3::timestamptz",
                   request.shop, request.product_id, request.requested_at);
    return 0;
  });
}

void reconcile_store::retry_refresh(const refresh_request& request, const std::string& error) {
  wrap("recording a failed refresh", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    // 10 s, 20 s, 40 s ... up to an hour.
    tx.exec_params("update shopify.product_refresh_requests set last_error = $3, "
                   "not_before = now() + least(interval '1 hour', "
                   "interval '10 seconds' * power(2, least(attempts, 12) - 1)) "
                   "where shop_domain = $1 and product_id = $2",
                   request.shop, request.product_id, error);
    return 0;
  });
}

std::vector<refresh_backlog> reconcile_store::refresh_backlogs() {
  return wrap("counting refresh requests", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    std::vector<refresh_backlog> out;
    // A shop's requests wait, neither due nor failing, while the app is
    // uninstalled from it.
    for (const auto& row : tx.exec("select shop_domain, "
                                   "count(*) filter (where installed and last_error is null), "
                                   "count(*) filter (where installed and last_error is not null), "
                                   "count(*) filter (where not installed) "
                                   "from (select r.*, shopify.shop_installed(r.shop_domain) "
                                   "      as installed "
                                   "      from shopify.product_refresh_requests r) r "
                                   "group by shop_domain order by shop_domain")) {
      out.push_back({row[0].c_str(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                     row[3].as<std::int64_t>()});
    }
    return out;
  });
}

std::vector<latest_runs> reconcile_store::latest_runs_by_shop() {
  return wrap("reading the latest reconcile runs", *session_, [&] {
    pqxx::nontransaction tx(session_->connection());
    std::vector<latest_runs> out;
    const auto slot = [&](const std::string& shop) -> latest_runs& {
      for (auto& shop_runs : out) {
        if (shop_runs.shop == shop) {
          return shop_runs;
        }
      }
      return out.emplace_back(latest_runs{shop, {}, {}});
    };
    for (const auto& row :
         tx.exec(std::string("select distinct on (shop_domain) ") + run_columns +
                 " from shopify.reconcile_runs where not dry_run and status = 'succeeded'"
                 " order by shop_domain, id desc")) {
      slot(row[1].c_str()).succeeded = read_run(row);
    }
    for (const auto& row :
         tx.exec(std::string("select distinct on (shop_domain) ") + run_columns +
                 " from shopify.reconcile_runs where not dry_run"
                 " and status in ('succeeded', 'held') order by shop_domain, id desc")) {
      slot(row[1].c_str()).settled = read_run(row);
    }
    return out;
  });
}

std::vector<failing_refresh> failing_refreshes(const db_settings& settings, std::size_t limit) {
  return read_apart("listing failing refresh requests", settings, [&](pqxx::nontransaction& tx) {
    std::vector<failing_refresh> out;
    for (const auto& row :
         tx.exec_params("select shop_domain, product_id, to_char(requested_at at time zone 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), attempts, coalesce(last_error, '') "
                        "from shopify.product_refresh_requests where last_error is not null "
                        "order by attempts desc, requested_at limit $1",
                        static_cast<std::int64_t>(limit))) {
      out.push_back({row[0].c_str(), row[1].as<std::int64_t>(), row[2].c_str(), row[3].as<int>(),
                     row[4].c_str()});
    }
    return out;
  });
}

std::optional<std::int64_t> running_run(const db_settings& settings, const std::string& shop) {
  return read_apart("reading the running run", settings,
                    [&](pqxx::nontransaction& tx) -> std::optional<std::int64_t> {
                      const pqxx::result rows = tx.exec_params(
                          "select id from shopify.reconcile_runs where shop_domain = $1 and "
                          "status = 'running' order by id desc limit 1",
                          shop);
                      if (rows.empty()) {
                        return std::nullopt;
                      }
                      return rows[0][0].as<std::int64_t>();
                    });
}

std::vector<run_record> list_runs(const db_settings& settings, std::size_t limit) {
  return read_apart("listing reconcile runs", settings, [&](pqxx::nontransaction& tx) {
    std::vector<run_record> out;
    for (const auto& row :
         tx.exec_params(std::string("select ") + run_columns +
                            " from shopify.reconcile_runs order by id desc limit $1",
                        static_cast<std::int64_t>(limit))) {
      out.push_back(read_run(row));
    }
    return out;
  });
}

std::vector<failed_product> run_failures(const db_settings& settings, std::int64_t run_id,
                                         std::size_t limit) {
  return read_apart("reading a run's failed products", settings, [&](pqxx::nontransaction& tx) {
    std::vector<failed_product> out;
    for (const auto& row : tx.exec_params("select product_id, reason from "
                                          "shopify.reconcile_failures where run_id = $1 "
                                          "order by product_id nulls first limit $2",
                                          run_id, static_cast<std::int64_t>(limit))) {
      failed_product f;
      if (!row[0].is_null()) {
        f.product_id = row[0].as<std::int64_t>();
      }
      f.reason = row[1].c_str();
      out.push_back(std::move(f));
    }
    return out;
  });
}

std::optional<run_record> find_run(const db_settings& settings, std::int64_t id) {
  return read_apart("reading a reconcile run", settings,
                    [&](pqxx::nontransaction& tx) -> std::optional<run_record> {
                      const pqxx::result rows =
                          tx.exec_params(std::string("select ") + run_columns +
                                             " from shopify.reconcile_runs where id = $1",
                                         id);
                      if (rows.empty()) {
                        return std::nullopt;
                      }
                      return read_run(rows[0]);
                    });
}

} // namespace shopmirror::db
