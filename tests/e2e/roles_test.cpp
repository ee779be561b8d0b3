// The least-privilege roles of deploy/postgres/roles.sql, in use.

#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

using namespace shopmirror;

namespace {

bool refused(const std::string& url, const std::string& sql) {
  try {
    pqxx::connection connection(url);
    pqxx::nontransaction tx(connection);
    tx.exec(sql);
    return false;
  } catch (const pqxx::sql_error&) {
    return true;
  }
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("the service runs as a role that can write the mirror's rows and nothing else") {
    test::pg_cluster cluster;
    cluster.psql("postgres", "create database shopmirror");
    const std::string roles = std::string(SHOPMIRROR_SOURCE_DIR) + "/deploy/postgres/roles.sql";
    REQUIRE(std::system(("psql -X -q -v ON_ERROR_STOP=1 -v owner_password=o -v app_password=a -h " +
                         cluster.directory() + " -p " + std::to_string(cluster.port()) +
                         " -U postgres -d shopmirror -f " + roles + " > /dev/null")
                            .c_str()) == 0);
    const auto url = [&](const std::string& role) {
      return "host=" + cluster.directory() + " port=" + std::to_string(cluster.port()) +
             " dbname=shopmirror user=" + role;
    };

    test::child_process migrate({test::shopmirror_binary(), "migrate"},
                                {{"SHOPMIRROR_DATABASE_URL", url("shopmirror_owner")}});
    const auto migrated = migrate.wait(std::chrono::seconds(30));
    INFO(migrate.output());
    REQUIRE(migrated == 0);

    const std::string secret = "role-secret";
    test::service_process service(url("shopmirror_app"), {secret},
                                  {{"SHOPMIRROR_MIGRATE_ON_START", "false"}});
    auto client = test::local_client(service.port());
    CHECK(client.request("GET", "/readyz", {}).status == 200);
    test::signed_delivery d;
    d.secret = secret;
    d.webhook_id = "role-1";
    d.body = test::product_json(
        {1, "Owned", "2026-01-01T00:00:00Z", "", "active", {{10, "1.00", "", 1, 1}}});
    CHECK(test::post_webhook(client, d).status == 200);
    d.webhook_id = "role-2";
    d.topic = "products/update";
    d.body = "{\"id\":1,\"title\":broken";
    CHECK(test::post_webhook(client, d).status == 200); // a dead letter
    test::child_process prune({test::shopmirror_binary(), "prune"},
                              {{"SHOPMIRROR_DATABASE_URL", url("shopmirror_app")}});
    CHECK(prune.wait(std::chrono::seconds(30)) == 0);

    const std::string app = url("shopmirror_app");
    CHECK(refused(app, "create table shopify.intruder (x int)"));
    CHECK(refused(app, "drop table shopify.products"));
    CHECK(refused(app, "alter table shopify.products add column x int"));
    // PostgreSQL 15 already refuses this to every role; kept so that a grant
    // added to roles.sql by mistake shows here.
    CHECK(refused(app, "create table public.intruder (x int)"));
    // Its own credentials it may read and renew; it may not change their shape.
    CHECK_FALSE(refused(app, "select count(*) from shopmirror.admin_credentials"));
    CHECK_FALSE(refused(app, "update shopmirror.admin_credentials set renewals = renewals"));
    CHECK(refused(app, "alter table shopmirror.admin_credentials add column x int"));

    const std::string reader = "host=" + cluster.directory() +
                               " port=" + std::to_string(cluster.port()) +
                               " dbname=shopmirror user=postgres";
    pqxx::connection admin(reader);
    pqxx::nontransaction tx(admin);
    tx.exec("create role crm login in role shopmirror_reader");
    CHECK_FALSE(refused(url("crm"), "select * from shopify.live_products"));
    CHECK(refused(url("crm"), "delete from shopify.products"));
    // The Admin API tokens are no consumer's business, sealed or not.
    CHECK(refused(url("crm"), "select * from shopmirror.admin_credentials"));
    CHECK(refused(url("crm"),
                  "select * from shopify.apply_deliveries(null,null,null,null,null,null,"
                  "null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
                  "null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
                  "null,null,null,null,null,null,null)"));
  }
}
