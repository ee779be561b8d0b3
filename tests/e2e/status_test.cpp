// `shopmirror status` and GET /status, /status/ against a real database and
// the real binary: the table, the JSON document (the same from both), the
// page, and who may read them.

#include "crypto/base64.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/status_rows.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <sstream>
#include <thread>

using namespace shopmirror;

namespace {

const std::string secret = "status-secret";
const std::string status_token = "status-token-0123456789abcdef";

std::pair<int, std::string> run_command(const std::string& database_url,
                                        std::vector<std::string> args) {
  args.insert(args.begin(), test::shopmirror_binary());
  test::child_process process(args, {{"SHOPMIRROR_DATABASE_URL", database_url}});
  const auto status = process.wait(std::chrono::seconds(60));
  REQUIRE(status);
  return {*status, process.output()};
}

/// The line of `text` that starts with `start`.
std::string line_starting(const std::string& text, const std::string& start) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(start, 0) == 0) {
      return line;
    }
  }
  return "";
}

/// A status document without its time, which differs between two reads.
rapidjson::Document document(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("as_of"));
  doc.RemoveMember("as_of");
  return doc;
}

std::string header(const net::client_response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return value;
    }
  }
  return "";
}

std::string basic(const std::string& password) {
  const std::string pair = "anyone:" + password;
  return "Basic " + crypto::base64_encode(std::span(
                        reinterpret_cast<const unsigned char*>(pair.data()), pair.size()));
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("shopmirror status prints an aligned table that marks the held sweep") {
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    const auto [status, output] = run_command(db.url(), {"status"});
    CAPTURE(output);
    CHECK(status == 1); // something needs attention
    const std::string head = line_starting(output, "SHOP ");
    const std::string busy = line_starting(output, shops.busy + " ");
    const std::string quiet = line_starting(output, shops.quiet + " ");
    REQUIRE_FALSE(head.empty());
    REQUIRE_FALSE(busy.empty());
    REQUIRE_FALSE(quiet.empty());
    // Aligned: each column starts where its heading does.
    CHECK(busy.find("ATTENTION") == head.find("STATE"));
    CHECK(busy.find("5 (applied 3, dead_letter 1, stale 1)") == head.find("DELIVERIES LAST HOUR"));
    CHECK(busy.find('#') == head.find("LAST RUN"));
    CHECK(busy.find("HELD (sweep of 40)") != std::string::npos);
    CHECK(quiet.find("FAILED") != std::string::npos);
    CHECK(busy.find("expiring_offline, refused") == head.find("CREDENTIALS"));
    CHECK(quiet.rfind("NO") == head.find("INSTALLED"));
    CHECK(output.find("  ! reconcile run ") != std::string::npos);
    CHECK(output.find("held a sweep of 40 products") != std::string::npos);
    CHECK(output.find("webhook subscriptions: not recorded in the database") != std::string::npos);
  }

  TEST_CASE("shopmirror status --json is the document, for all shops or one") {
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    const auto [status, output] = run_command(db.url(), {"status", "--json"});
    CHECK(status == 1);
    rapidjson::Document doc;
    doc.Parse(output.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    CHECK_FALSE(doc["ok"].GetBool());
    CHECK_FALSE(doc["subscriptions"]["recorded"].GetBool());
    const auto& list = doc["shops"];
    REQUIRE(list.Size() == 2);
    const auto& busy = list[0];
    CHECK(std::string(busy["shop"].GetString()) == shops.busy);
    CHECK(busy["deliveries_last_hour"]["total"].GetInt64() == 5);
    CHECK(busy["deliveries_last_hour"]["by_outcome"]["stale"].GetInt64() == 1);
    CHECK(busy["last_delivery_at"].IsString());
    REQUIRE(busy["held_sweeps"].Size() == 1);
    CHECK(busy["held_sweeps"][0]["held_sweep"].GetInt64() == 40);
    CHECK(std::string(busy["reconcile_runs"][0]["status"].GetString()) == "held");
    CHECK(busy["reconcile_runs"][1]["unchanged"].GetInt64() == 95);
    CHECK(busy["dead_letters"]["pending"].GetInt64() == 2);
    CHECK(busy["refresh_requests"]["failing"].GetInt64() == 1);
    CHECK(std::string(busy["credentials"]["state"].GetString()) == "refused");
    CHECK(busy["installed"].GetBool());
    const auto& quiet = list[1];
    CHECK(std::string(quiet["reconcile_runs"][0]["error"].GetString()) == shops.failed_error);
    CHECK_FALSE(quiet["installed"].GetBool());
    CHECK(quiet["credentials"].IsNull());

    const auto [one_status, one] =
        run_command(db.url(), {"status", "--shop", shops.silent, "--json"});
    CHECK(one_status == 0);
    rapidjson::Document single;
    single.Parse(one.c_str());
    REQUIRE_FALSE(single.HasParseError());
    REQUIRE(single["shops"].Size() == 1);
    CHECK(std::string(single["shops"][0]["shop"].GetString()) == shops.silent);
    CHECK(single["shops"][0]["ok"].GetBool());
  }

  TEST_CASE("shopmirror status: help, unknown options, and no database") {
    test::test_database db;
    const auto [help, usage] = run_command(db.url(), {"status", "--help"});
    CHECK(help == 0);
    CHECK(usage.find("usage: shopmirror status [--shop DOMAIN] [--json]") != std::string::npos);
    const auto [bad, message] = run_command(db.url(), {"status", "--tabel"});
    CHECK(bad == 2);
    CHECK(message.find("unknown option \"--tabel\"") != std::string::npos);
    CHECK(message.find("usage: shopmirror status") != std::string::npos);
    const auto [down, why] = run_command("host=127.0.0.1 port=1 dbname=none user=none", {"status"});
    CHECK(down == 3);
    CHECK(why.find("the database cannot be read") != std::string::npos);
    const auto [listed, overview] = run_command(db.url(), {"--help"});
    CHECK(listed == 0);
    CHECK(overview.find("  status ") != std::string::npos);
  }

  TEST_CASE("GET /status and /status/ want a token and answer the command's document and a page") {
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    test::service_process service(db.url(), {secret}, {{"SHOPMIRROR_STATUS_TOKEN", status_token}});
    auto client = test::local_client(service.port());

    const auto anonymous = client.request("GET", "/status", {});
    CHECK(anonymous.status == 401);
    CHECK(header(anonymous, "WWW-Authenticate") == "Bearer");
    CHECK(anonymous.body.find(shops.busy) == std::string::npos);
    CHECK(client.request("GET", "/status", {{"Authorization", "Bearer wrong-token-0123456789"}})
              .status == 401);
    const auto page_anonymous = client.request("GET", "/status/", {});
    CHECK(page_anonymous.status == 401);
    CHECK(header(page_anonymous, "WWW-Authenticate").rfind("Basic realm=", 0) == 0);
    CHECK(client.request("GET", "/status/", {{"Authorization", basic("wrong")}}).status == 401);
    CHECK(client.request("POST", "/status", {{"Authorization", "Bearer " + status_token}}).status ==
          405);

    const auto json =
        client.request("GET", "/status", {{"Authorization", "Bearer " + status_token}});
    REQUIRE(json.status == 200);
    CHECK(header(json, "Content-Type") == "application/json");
    const auto [command_status, command_json] = run_command(db.url(), {"status", "--json"});
    CHECK(command_status == 1);
    CHECK(document(json.body) == document(command_json));

    const auto page = client.request("GET", "/status/", {{"Authorization", basic(status_token)}});
    REQUIRE(page.status == 200);
    CHECK(header(page, "Content-Type") == "text/html; charset=utf-8");
    CHECK(header(page, "Content-Security-Policy").find("default-src 'none'") != std::string::npos);
    CHECK(page.body.find("<h2>" + shops.busy) != std::string::npos);
    CHECK(page.body.find("<tr class=\"held\">") != std::string::npos);
    CHECK(page.body.find("<strong class=\"held\">HELD (sweep of 40)</strong>") !=
          std::string::npos);
    CHECK(page.body.find("<tr class=\"failed\">") != std::string::npos);
    // The stored error is shown as text, never as markup.
    CHECK(page.body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; gave up") !=
          std::string::npos);
    CHECK(page.body.find("<script") == std::string::npos);
    // A bearer token opens the page too.
    CHECK(client.request("GET", "/status/", {{"Authorization", "Bearer " + status_token}}).status ==
          200);
  }

  TEST_CASE("GET /status is 404 without a token configured, and opens with the reconcile token") {
    test::test_database db;
    {
      test::service_process service(db.url(), {secret});
      auto client = test::local_client(service.port());
      CHECK(
          client.request("GET", "/status", {{"Authorization", "Bearer " + status_token}}).status ==
          404);
    }
    const std::string reconcile_token = "reconcile-token-0123456789abcdef";
    test::service_process service(db.url(), {secret},
                                  {{"SHOPMIRROR_STATUS_TOKEN", status_token},
                                   {"SHOPMIRROR_RECONCILE_TOKEN", reconcile_token},
                                   {"SHOPMIRROR_SHOP", "status-shop.myshopify.com"},
                                   {"SHOPMIRROR_ADMIN_TOKEN", "shpat_status"},
                                   {"SHOPMIRROR_RECONCILE_AT", "off"},
                                   {"SHOPMIRROR_ADMIN_API_URL", "http://127.0.0.1:1"}});
    auto client = test::local_client(service.port());
    const auto json =
        client.request("GET", "/status", {{"Authorization", "Bearer " + reconcile_token}});
    REQUIRE(json.status == 200);
    // The configured shop is shown though the database has nothing of it.
    const auto shops = test::elements(json.body, "shops");
    REQUIRE(shops.size() == 1);
    CHECK(test::field(shops[0], "shop") == "status-shop.myshopify.com");
  }

  TEST_CASE("GET /status answers 503 while the database is down, and recovers") {
    test::pg_cluster cluster;
    test::test_database db(cluster);
    test::service_process service(db.url(), {secret}, {{"SHOPMIRROR_STATUS_TOKEN", status_token}});
    auto client = test::local_client(service.port());
    const net::header_list auth = {{"Authorization", "Bearer " + status_token}};
    CHECK(client.request("GET", "/status", auth).status == 200);
    cluster.stop_immediate();
    const auto down = client.request("GET", "/status", auth);
    CHECK(down.status == 503);
    CHECK(header(down, "Retry-After") == "5");
    CHECK(client.request("GET", "/status/", auth).status == 503);
    cluster.start();
    int status = 0;
    for (int i = 0; i < 100 && status != 200; ++i) {
      status = client.request("GET", "/status", auth).status;
      if (status != 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    CHECK(status == 200);
  }

} // TEST_SUITE
