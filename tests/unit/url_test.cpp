// URLs through Boost.URL: where the service sends requests
// (SHOPMIRROR_ADMIN_API_URL, `send --url`, `health --url`) and the query of
// a request it answers.

#include "net/url.hpp"

#include <doctest/doctest.h>

using namespace shopmirror;

TEST_SUITE("net") {

  TEST_CASE("an http or https URL gives host, port and target") {
    const auto shop =
        net::parse_url("https://test-shop.myshopify.com/admin/api/2026-10/graphql.json");
    REQUIRE(shop);
    CHECK(shop->tls);
    CHECK(shop->host == "test-shop.myshopify.com");
    CHECK(shop->port == "443");
    CHECK(shop->target == "/admin/api/2026-10/graphql.json");

    const auto local = net::parse_url("http://127.0.0.1:8080");
    REQUIRE(local);
    CHECK_FALSE(local->tls);
    CHECK(local->host == "127.0.0.1");
    CHECK(local->port == "8080");
    CHECK(local->target == "/");

    const auto v6 = net::parse_url("http://[::1]:9/readyz?x=1#top");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == "9");
    CHECK(v6->target == "/readyz?x=1");

    const auto query_only = net::parse_url("http://localhost?a=b");
    REQUIRE(query_only);
    CHECK(query_only->target == "/?a=b");
  }

  TEST_CASE("what is not an http URL is refused") {
    for (const char* text :
         {"ftp://example.com/", "example.com", "http://", "http://user:pw@host/", "http://host:/",
          "http://host:port/", "https://[::1/", "", "http://exa mple.com/"}) {
      CAPTURE(text);
      CHECK_FALSE(net::parse_url(text));
    }
  }

  TEST_CASE("a request target's query is decoded, the last of a repeated name winning") {
    const auto params = net::query_parameters(
        "/reconcile?shop=a-shop.myshopify.com&since=2026-12-01T00%3A00%3A00Z&note=two+words&flag&"
        "mode=bulk&mode=paginated");
    REQUIRE(params);
    CHECK(params->at("shop") == "a-shop.myshopify.com");
    CHECK(params->at("since") == "2026-12-01T00:00:00Z");
    CHECK(params->at("note") == "two words");
    CHECK(params->at("flag").empty());
    CHECK(params->at("mode") == "paginated");
    CHECK(net::query_parameters("/reconcile")->empty());
    CHECK_FALSE(net::query_parameters("reconcile?shop=x"));
    CHECK_FALSE(net::query_parameters("/a?b=%zz"));
  }

} // TEST_SUITE
