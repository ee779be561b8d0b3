// The status in its three forms, and who may read it, without a database.

#include "crypto/base64.hpp"
#include "ingest/status.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

using namespace shopmirror;

namespace {

ingest::http_request with_authorization(const std::string& value) {
  ingest::http_request request{ingest::http::verb::get, "/status", 11};
  if (!value.empty()) {
    request.set(ingest::http::field::authorization, value);
  }
  return request;
}

std::string basic(const std::string& pair) {
  return "Basic " + crypto::base64_encode(std::span(
                        reinterpret_cast<const unsigned char*>(pair.data()), pair.size()));
}

/// A shop whose every text is hostile markup, with a held run.
db::status_report hostile_report() {
  db::status_report report;
  db::shop_status shop;
  shop.shop = "<b>evil</b>.myshopify.com";
  db::run_record held;
  held.id = 7;
  held.shop = shop.shop;
  held.status = db::run_status::held;
  held.held_sweep = 12;
  held.error = "\"quoted\" & <img src=x onerror=alert(1)>";
  shop.runs.push_back(held);
  shop.deliveries_last_hour["applied"] = 2;
  report.shops.push_back(shop);
  return report;
}

} // namespace

TEST_SUITE("ingest") {

  TEST_CASE("html_escaped leaves no markup") {
    CHECK(ingest::html_escaped("<a href=\"x\">'&'</a>") ==
          "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    CHECK(ingest::html_escaped("plain text") == "plain text");
  }

  TEST_CASE("the status opens with a bearer token or a Basic password, of either token") {
    const std::vector<std::string> tokens = {"status-token-0123456789",
                                             "reconcile-token-0123456789"};
    CHECK(ingest::status_authorized(with_authorization("Bearer status-token-0123456789"), tokens));
    CHECK(
        ingest::status_authorized(with_authorization("Bearer reconcile-token-0123456789"), tokens));
    CHECK(ingest::status_authorized(with_authorization(basic("anyone:status-token-0123456789")),
                                    tokens));
    CHECK_FALSE(ingest::status_authorized(with_authorization(""), tokens));
    CHECK_FALSE(ingest::status_authorized(with_authorization("Bearer "), tokens));
    CHECK_FALSE(
        ingest::status_authorized(with_authorization("Bearer status-token-012345678"), tokens));
    CHECK_FALSE(ingest::status_authorized(with_authorization(basic("status-token-0123456789")),
                                          tokens)); // no user:password
    CHECK_FALSE(ingest::status_authorized(with_authorization("Basic !!!"), tokens));
    CHECK_FALSE(
        ingest::status_authorized(with_authorization("Token status-token-0123456789"), tokens));
    // An unset token never matches, not even an empty password.
    CHECK_FALSE(ingest::status_authorized(with_authorization(basic("a:")), {""}));
  }

  TEST_CASE("the status page escapes what the database holds and marks a held run") {
    const std::string page = ingest::status_html(hostile_report());
    CHECK(page.find("<b>evil") == std::string::npos);
    CHECK(page.find("&lt;b&gt;evil&lt;/b&gt;.myshopify.com") != std::string::npos);
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("<script") == std::string::npos);
    CHECK(page.find("<tr class=\"held\">") != std::string::npos);
    CHECK(page.find("HELD (sweep of 12)") != std::string::npos);
  }

  TEST_CASE("the status document is JSON however hostile its text") {
    const std::string json = ingest::status_json(hostile_report());
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    CHECK_FALSE(doc["ok"].GetBool());
    const auto& shop = doc["shops"][0];
    CHECK(std::string(shop["shop"].GetString()) == "<b>evil</b>.myshopify.com");
    CHECK(std::string(shop["reconcile_runs"][0]["error"].GetString()) ==
          "\"quoted\" & <img src=x onerror=alert(1)>");
    CHECK(shop["held_sweeps"][0]["run_id"].GetInt64() == 7);
    CHECK(shop["deliveries_last_hour"]["total"].GetInt64() == 2);
  }

} // TEST_SUITE
