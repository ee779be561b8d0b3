// PgBouncer in front of PostgreSQL. This file builds into pgbouncer_tests
// only, with the webhook and reconcile end-to-end tests, which run there
// with every connection through PgBouncer in session mode
// (SHOPMIRROR_TEST_PGBOUNCER=session, tests/CMakeLists.txt). Transaction
// mode breaks what shopmirror keeps per session; here is what, and that
// shopmirror notices.

#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/pgbouncer_process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <thread>

using namespace shopmirror;
using namespace std::chrono_literals;

TEST_SUITE("e2e") {

  TEST_CASE("the suite's own connections go through PgBouncer in session mode") {
    REQUIRE(test::shared_pgbouncer() != nullptr);
    const test::test_database db;
    CHECK(db.url().find("port=" + std::to_string(test::shared_pgbouncer()->port())) !=
          std::string::npos);
    // Each connection its own session, as shopmirror needs.
    test::child_process check(
        {test::shopmirror_binary(), "check"},
        {{"SHOPMIRROR_DATABASE_URL", db.url()}, {"SHOPMIRROR_WEBHOOK_SECRETS", "x"}});
    REQUIRE(check.wait(60s).has_value());
    CHECK(check.output().find("ok    each connection has a database session of its own") !=
          std::string::npos);
  }

  TEST_CASE("transaction mode hands one session's advisory lock and settings to another client") {
    const test::test_database db;
    test::pgbouncer_process bouncer(test::shared_server_url(), "transaction", 1);
    pqxx::connection first(bouncer.url(db.name()));
    pqxx::connection second(bouncer.url(db.name()));
    const auto ask = [](pqxx::connection& c, const std::string& sql) {
      pqxx::nontransaction tx(c);
      return std::string(tx.exec1(sql)[0].c_str());
    };
    // The reconcile's one-run-per-shop lock: the second client gets it too.
    CHECK(ask(first, "select pg_try_advisory_lock(4242)") == "t");
    CHECK(ask(second, "select pg_try_advisory_lock(4242)") == "t");
    // A session setting one client makes is what the next one runs under.
    ask(first, "select set_config('statement_timeout', '1234', false)");
    CHECK(ask(second, "show statement_timeout") == "1234ms");
    // Directly, each connection is a session: the second is refused.
    pqxx::connection direct_first(test::shared_server_url() + " dbname=" + db.name());
    pqxx::connection direct_second(test::shared_server_url() + " dbname=" + db.name());
    CHECK(ask(direct_first, "select pg_try_advisory_lock(4343)") == "t");
    CHECK(ask(direct_second, "select pg_try_advisory_lock(4343)") == "f");
  }

  TEST_CASE(
      "behind PgBouncer in transaction mode serve refuses to start and check fails, saying why") {
    const test::test_database db;
    test::pgbouncer_process bouncer(test::shared_server_url(), "transaction", 4);
    const test::environment env = {{"SHOPMIRROR_DATABASE_URL", bouncer.url(db.name())},
                                   {"SHOPMIRROR_WEBHOOK_SECRETS", "pooled-secret"},
                                   {"SHOPMIRROR_LISTEN", "127.0.0.1:0"}};
    // Started anyway, such a service answered every other delivery 500 (its
    // prepared statements live in sessions other clients get) and shared the
    // reconcile lock: it stops at once, like a bad setting.
    test::child_process serve({test::shopmirror_binary(), "serve"}, env);
    const auto status = serve.wait(30s);
    REQUIRE(status.has_value());
    CHECK(*status == 2);
    CHECK(serve.output().find("pooler in transaction mode") != std::string::npos);
    CHECK_FALSE(test::logged(serve.output(), "listening"));

    test::child_process check({test::shopmirror_binary(), "check"}, env);
    const auto checked = check.wait(60s);
    REQUIRE(checked.has_value());
    CHECK(*checked == 1);
    CHECK(check.output().find("FAIL  database sessions are shared between connections") !=
          std::string::npos);
  }
}
