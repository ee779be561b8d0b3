// The Admin API stand-in over real sockets, through our own HTTP client: what
// the reconcile client will rely on it for.

#include "model/timestamp.hpp"
#include "net/http_client.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/catalog.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

using namespace shopmirror;

namespace {

model::timestamp at(const char* text) {
  const auto t = model::parse_rfc3339(text);
  REQUIRE(t);
  return *t;
}

model::product_state make_product(std::int64_t id, int variants,
                                  const char* updated_at = "2026-11-28T09:00:00Z") {
  model::product_state p;
  p.id = id;
  p.title = "Product " + std::to_string(id) + " \"quoted\" <b>\\";
  p.handle = "product-" + std::to_string(id);
  p.vendor = "Vendor";
  p.product_type = "Shoes";
  p.status = "active";
  p.tags = {"zeta", "alpha"};
  p.body_html = "<p>Line one\nline two</p>";
  p.created_at = at("2026-01-01T00:00:00Z");
  p.updated_at = at(updated_at);
  for (int i = 0; i < variants; ++i) {
    model::variant_state v;
    v.id = id * 1000 + i;
    v.sku = "SKU-" + std::to_string(id) + "-" + std::to_string(i);
    v.title = "Black / " + std::to_string(i);
    v.price = "199.00";
    v.position = i + 1;
    v.option1 = "Black";
    v.option2 = std::to_string(i);
    v.inventory_quantity = i;
    v.updated_at = p.updated_at;
    p.variants.push_back(v);
  }
  return p;
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), body);
  return d;
}

std::string text(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// Speaks the contract the reconcile client speaks.
struct admin_client {
  test::admin_api_stand_in& api;
  net::http_client http;
  std::string token;
  std::string version = "2026-10";

  explicit admin_client(test::admin_api_stand_in& a)
      : api(a), http(*net::parse_url(a.base_url())), token(a.access_token()) {}

  net::client_response post(const std::string& query, const std::string& variables) {
    const std::string body = R"({"query":")" + query + R"(","variables":)" + variables + "}";
    return http.request("POST", test::admin_api_stand_in::graphql_target(version),
                        {{"Content-Type", "application/json"}, {"X-Shopify-Access-Token", token}},
                        body);
  }

  rapidjson::Document call(const std::string& query, const std::string& variables) {
    const auto response = post(query, variables);
    REQUIRE_MESSAGE(response.status == 200, response.body);
    return parse(response.body);
  }

  rapidjson::Document products_page(int first, const std::string& after = "null",
                                    const std::string& filter = "null") {
    return call(
        "query ProductsPage($first: Int!, $after: String, $query: String) { products(first: "
        "$first, after: $after, query: $query, sortKey: ID) { nodes { id } } }",
        R"({"first":)" + std::to_string(first) + R"(,"after":)" + after + R"(,"query":)" + filter +
            "}");
  }

  // `group_objects` is the argument's text ("true", "false", "$group"), or
  // empty to leave it out.
  rapidjson::Document start_bulk(const std::string& group_objects = "true",
                                 const std::string& more_variables = "") {
    const std::string argument = group_objects.empty() ? "" : ", groupObjects: " + group_objects;
    return call("mutation StartBulkProducts($query: String!, $group: Boolean) { "
                "bulkOperationRunQuery(query: $query" +
                    argument +
                    ") { bulkOperation { id status createdAt } userErrors { field message code "
                    "} } }",
                R"({"query":"{ products { edges { node { id } } } }")" + more_variables + "}");
  }

  rapidjson::Document bulk_status(const std::string& id) {
    return call("query BulkOperationById($id: ID!) { bulkOperation(id: $id) { id status "
                "errorCode createdAt completedAt objectCount rootObjectCount url partialDataUrl "
                "} }",
                R"({"id":")" + id + R"("})");
  }

  rapidjson::Document bulk_operations(int first, const std::string& filter) {
    return call("query BulkOperations($first: Int!, $query: String!) { bulkOperations(first: "
                "$first, query: $query) { nodes { id status createdAt } } }",
                R"({"first":)" + std::to_string(first) + R"(,"query":")" + filter + R"("})");
  }
};

// Every line of a JSONL download, fetched in pieces as the client streams.
std::vector<std::string> download(const std::string& url) {
  const auto parts = net::parse_url(url);
  REQUIRE(parts);
  net::http_client client(*parts);
  std::string all;
  const auto response = client.request_streaming("GET", parts->target, {}, [&](std::string_view s) {
    all.append(s);
    return true;
  });
  REQUIRE(response.status == 200);
  std::vector<std::string> lines;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string poll_until_done(admin_client& client, const std::string& id,
                            rapidjson::Document& last) {
  for (int i = 0; i < 10; ++i) {
    last = client.bulk_status(id);
    const std::string status = text(last["data"]["bulkOperation"]["status"]);
    if (status != "CREATED" && status != "RUNNING") {
      return status;
    }
  }
  return "never done";
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("stand-in products pages walk every product once in id order") {
    test::admin_api_stand_in api;
    // Ids above 2^53 must survive exactly.
    const std::int64_t big = 9007199254740993;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 23; ++i) {
      ids.push_back(632910392 + i * 7);
    }
    ids.push_back(big);
    for (auto id : ids) {
      api.put_product(make_product(id, id == ids[3] ? 130 : 2));
    }
    api.put_product(make_product(ids[5], 3), {"Color", "Size"});

    admin_client client(api);
    std::vector<std::int64_t> seen;
    std::string after = "null";
    int pages = 0;
    for (;;) {
      const auto page = client.products_page(7, after);
      const auto& products = page["data"]["products"];
      for (const auto& node : products["nodes"].GetArray()) {
        seen.push_back(std::stoll(text(node["legacyResourceId"])));
        CHECK(text(node["id"]) == "gid://shopify/Product/" + text(node["legacyResourceId"]));
      }
      const auto& cost = page["extensions"]["cost"];
      CHECK(cost["requestedQueryCost"].GetInt() == 2 + 7 * 103);
      CHECK(cost["throttleStatus"]["maximumAvailable"].GetDouble() == 2000.0);
      ++pages;
      if (!products["pageInfo"]["hasNextPage"].GetBool()) {
        break;
      }
      after = "\"" + text(products["pageInfo"]["endCursor"]) + "\"";
    }
    std::vector<std::int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    CHECK(seen == sorted);
    CHECK(pages == 4);
    CHECK(seen.back() == big);
    CHECK(api.counters().of("ProductsPage") == 4);
    CHECK(api.counters().api_versions == std::vector<std::string>{"2026-10"});

    // The fields, as Shopify renders them.
    const auto first = client.products_page(1);
    const auto& node = first["data"]["products"]["nodes"][0];
    CHECK(text(node["status"]) == "ACTIVE");
    CHECK(text(node["title"]) == "Product 632910392 \"quoted\" <b>\\");
    CHECK(text(node["tags"][0]) == "alpha");
    CHECK(text(node["tags"][1]) == "zeta");
    CHECK(text(node["updatedAt"]) == "2026-11-28T09:00:00Z");
    CHECK(node["publishedAt"].IsNull());
    CHECK(text(node["descriptionHtml"]) == "<p>Line one\nline two</p>");
    const auto& variant = node["variants"]["nodes"][1];
    CHECK(text(variant["id"]) == "gid://shopify/ProductVariant/632910392001");
    CHECK(text(variant["price"]) == "199.00");
    CHECK(variant["compareAtPrice"].IsNull());
    CHECK(variant["position"].GetInt() == 2);
    CHECK(variant["selectedOptions"].Size() == 2);
    CHECK(text(variant["selectedOptions"][0]["name"]) == "Option1");
    CHECK(text(variant["selectedOptions"][0]["value"]) == "Black");
    CHECK(first["extensions"]["cost"]["actualQueryCost"].GetInt() == 2 + 3 + 2);

    // Named options, and a product of 130 variants: 100 in the node, the rest
    // by ProductVariantsPage.
    const auto named =
        client.call("query ProductById($id: ID!) { product(id: $id) { id } }",
                    R"({"id":"gid://shopify/Product/)" + std::to_string(ids[5]) + R"("})");
    CHECK(text(named["data"]["product"]["variants"]["nodes"][0]["selectedOptions"][1]["name"]) ==
          "Size");
    const auto many =
        client.call("query ProductById($id: ID!) { product(id: $id) { id } }",
                    R"({"id":"gid://shopify/Product/)" + std::to_string(ids[3]) + R"("})");
    const auto& variants = many["data"]["product"]["variants"];
    CHECK(variants["nodes"].Size() == 100);
    CHECK(variants["pageInfo"]["hasNextPage"].GetBool());
    const auto rest = client.call(
        "query ProductVariantsPage($id: ID!, $after: String) { product(id: $id) { variants(first: "
        "250, after: $after) { nodes { id } } } }",
        R"({"id":"gid://shopify/Product/)" + std::to_string(ids[3]) + R"(","after":")" +
            text(variants["pageInfo"]["endCursor"]) + R"("})");
    const auto& rest_variants = rest["data"]["product"]["variants"];
    CHECK(rest_variants["nodes"].Size() == 30);
    CHECK(text(rest_variants["nodes"][0]["sku"]) == "SKU-" + std::to_string(ids[3]) + "-100");
    CHECK_FALSE(rest_variants["pageInfo"]["hasNextPage"].GetBool());
    CHECK(rest["extensions"]["cost"]["requestedQueryCost"].GetInt() == 253);
  }

  TEST_CASE("stand-in updated_at filter keeps products updated at or after the time") {
    test::admin_api_stand_in api;
    api.put_product(make_product(1, 1, "2026-11-28T09:59:59Z"));
    api.put_product(make_product(2, 1, "2026-11-28T10:00:00Z"));
    api.put_product(make_product(3, 1, "2026-11-28T11:00:00Z"));
    admin_client client(api);
    const auto page = client.products_page(10, "null", R"("updated_at:>='2026-11-28T10:00:00Z'")");
    const auto& nodes = page["data"]["products"]["nodes"];
    REQUIRE(nodes.Size() == 2);
    CHECK(text(nodes[0]["legacyResourceId"]) == "2");
    CHECK(text(nodes[1]["legacyResourceId"]) == "3");
  }

  TEST_CASE("stand-in ProductById answers null for unknown and deleted products") {
    test::admin_api_stand_in api;
    api.put_product(make_product(5, 1));
    admin_client client(api);
    const std::string query = "query ProductById($id: ID!) { product(id: $id) { id } }";
    CHECK(client.call(query, R"({"id":"gid://shopify/Product/5"})")["data"]["product"].IsObject());
    CHECK(api.remove_product(5));
    CHECK(client.call(query, R"({"id":"gid://shopify/Product/5"})")["data"]["product"].IsNull());
    CHECK(client.call(query, R"({"id":"gid://shopify/Product/6"})")["data"]["product"].IsNull());
    CHECK(client.products_page(5)["data"]["products"]["nodes"].Size() == 0);
  }

  TEST_CASE("stand-in bulk operation snapshots the catalog at completion and serves JSONL") {
    test::admin_api_stand_in api;
    for (std::int64_t id = 1; id <= 4; ++id) {
      api.put_product(make_product(id, static_cast<int>(id)));
    }
    admin_client client(api);
    const auto started = client.start_bulk();
    const auto& run = started["data"]["bulkOperationRunQuery"];
    CHECK(run["userErrors"].Size() == 0);
    const std::string id = text(run["bulkOperation"]["id"]);
    CHECK(text(run["bulkOperation"]["status"]) == "CREATED");
    CHECK(started["extensions"]["cost"]["requestedQueryCost"].GetInt() == 10);

    // One at a time.
    const auto again = client.start_bulk();
    CHECK(again["data"]["bulkOperationRunQuery"]["bulkOperation"].IsNull());
    CHECK(text(again["data"]["bulkOperationRunQuery"]["userErrors"][0]["message"]) ==
          "A bulk query operation for this app and shop is already in progress: " + id + ".");
    CHECK(text(again["data"]["bulkOperationRunQuery"]["userErrors"][0]["code"]) ==
          "OPERATION_IN_PROGRESS");
    CHECK(api.counters().bulk_in_progress == 1);
    CHECK(api.counters().bulk_started == 1);

    const auto running = client.bulk_status(id);
    CHECK(text(running["data"]["bulkOperation"]["status"]) == "RUNNING");
    CHECK(running["data"]["bulkOperation"]["url"].IsNull());
    CHECK(text(running["data"]["bulkOperation"]["objectCount"]) == "0");
    CHECK(text(running["data"]["bulkOperation"]["rootObjectCount"]) == "0");
    CHECK(running["data"]["bulkOperation"]["completedAt"].IsNull());
    const auto created = model::parse_rfc3339(text(running["data"]["bulkOperation"]["createdAt"]));
    REQUIRE(created);
    CHECK(text(run["bulkOperation"]["createdAt"]) ==
          text(running["data"]["bulkOperation"]["createdAt"]));

    // Changed while it runs: the result shows the catalog as it completes.
    api.remove_product(2);
    api.put_product(make_product(9, 2));
    rapidjson::Document done;
    REQUIRE(poll_until_done(client, id, done) == "COMPLETED");
    const auto& node = done["data"]["bulkOperation"];
    CHECK(node["errorCode"].IsNull());
    // Strings (UnsignedInt64): every object, and the products alone.
    CHECK(text(node["objectCount"]) == std::to_string(4 + (1 + 3 + 4 + 2)));
    CHECK(text(node["rootObjectCount"]) == "4");
    CHECK(node["partialDataUrl"].IsNull());
    const auto completed = model::parse_rfc3339(text(node["completedAt"]));
    REQUIRE(completed);
    CHECK(*completed >= *created);

    // Later changes do not touch a completed result.
    api.remove_product(1);
    const auto lines = download(text(node["url"]));
    REQUIRE(lines.size() == 14);
    std::vector<std::string> products;
    std::string parent;
    for (const auto& line : lines) {
      const auto d = parse(line);
      if (d.HasMember("__parentId")) {
        CHECK(text(d["__parentId"]) == parent);
        CHECK(std::string(d["id"].GetString()).rfind("gid://shopify/ProductVariant/", 0) == 0);
        CHECK(d.HasMember("price"));
      } else {
        CHECK_FALSE(d.HasMember("variants"));
        parent = text(d["id"]);
        products.push_back(text(d["legacyResourceId"]));
      }
    }
    CHECK(products == std::vector<std::string>{"1", "3", "4", "9"});
    CHECK(api.counters().of("bulk_download") == 1);

    // A finished operation lets the next one start; the hook sees every
    // request and may change the catalog in the middle of a run.
    int hooked = 0;
    api.on_request([&](std::string_view operation) {
      ++hooked;
      if (operation == "BulkOperationById") {
        api.put_product(make_product(20, 1));
      }
    });
    const auto second = client.start_bulk();
    const std::string second_id =
        text(second["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]);
    CHECK(second_id != id);
    REQUIRE(poll_until_done(client, second_id, done) == "COMPLETED");
    CHECK(download(text(done["data"]["bulkOperation"]["url"])).size() == 4 + (3 + 4 + 2 + 1));
    CHECK(hooked >= 3);
    api.on_request({});
  }

  TEST_CASE("stand-in bulk knobs: immediate completion and a failed start and a failed run") {
    test::admin_api_stand_in api;
    for (std::int64_t id = 1; id <= 10; ++id) {
      api.put_product(make_product(id, 1));
    }
    admin_client client(api);

    api.fail_next_bulk_start("Bulk operations are temporarily unavailable.");
    const auto refused = client.start_bulk();
    CHECK(refused["data"]["bulkOperationRunQuery"]["bulkOperation"].IsNull());
    CHECK(text(refused["data"]["bulkOperationRunQuery"]["userErrors"][0]["message"]) ==
          "Bulk operations are temporarily unavailable.");

    api.set_bulk_complete_at_start(true);
    const auto at_once = client.start_bulk();
    const std::string id = text(at_once["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]);
    CHECK(text(client.bulk_status(id)["data"]["bulkOperation"]["status"]) == "COMPLETED");
    api.set_bulk_complete_at_start(false);

    api.set_bulk_running_polls(3);
    api.fail_next_bulk_operation(0.3);
    const auto failing = client.start_bulk();
    const std::string failing_id =
        text(failing["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]);
    for (int i = 0; i < 3; ++i) {
      CHECK(text(client.bulk_status(failing_id)["data"]["bulkOperation"]["status"]) == "RUNNING");
    }
    const auto failed = client.bulk_status(failing_id);
    const auto& node = failed["data"]["bulkOperation"];
    CHECK(text(node["status"]) == "FAILED");
    CHECK(text(node["errorCode"]) == "INTERNAL_SERVER_ERROR");
    CHECK(node["url"].IsNull());
    CHECK(text(node["objectCount"]) == "6");
    CHECK(download(text(node["partialDataUrl"])).size() == 6);
    CHECK(client.bulk_status("gid://shopify/BulkOperation/999")["data"]["bulkOperation"].IsNull());
  }

  TEST_CASE("stand-in throttles when the bucket is short and serves again after the restore") {
    test::admin_api_stand_in api;
    api.put_product(make_product(1, 1));
    api.set_bucket(300, 1000);
    admin_client client(api);

    api.drain_bucket();
    const auto throttled = client.products_page(2);
    CHECK(text(throttled["errors"][0]["message"]) == "Throttled");
    CHECK(text(throttled["errors"][0]["extensions"]["code"]) == "THROTTLED");
    CHECK(throttled["extensions"]["cost"]["requestedQueryCost"].GetInt() == 208);
    CHECK(throttled["extensions"]["cost"]["actualQueryCost"].IsNull());
    CHECK_FALSE(throttled.HasMember("data"));
    CHECK(api.counters().throttled == 1);

    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    const auto served = client.products_page(2);
    CHECK(served["data"]["products"]["nodes"].Size() == 1);
    const auto& status = served["extensions"]["cost"]["throttleStatus"];
    // Charged 208 up front, 6 used: the rest refunded.
    CHECK(served["extensions"]["cost"]["actualQueryCost"].GetInt() == 2 + 3 + 1);
    CHECK(status["currentlyAvailable"].GetInt() >= 290);
    CHECK(status["maximumAvailable"].GetDouble() == 300.0);
    CHECK(status["restoreRate"].GetDouble() == 1000.0);
    CHECK(api.counters().throttled == 1);

    // The same, answered 429 when asked.
    api.set_throttled_status(429);
    api.drain_bucket();
    const auto as_429 = client.post("query ProductById($id: ID!) { product(id: $id) { id } }",
                                    R"({"id":"gid://shopify/Product/1"})");
    CHECK(as_429.status == 429);
    CHECK(as_429.body.find("THROTTLED") != std::string::npos);
    CHECK(api.counters().throttled == 2);

    // A query that could never fit the bucket.
    api.set_bucket(300, 50);
    const auto too_big = client.products_page(3);
    CHECK(text(too_big["errors"][0]["extensions"]["code"]) == "MAX_COST_EXCEEDED");
    CHECK(api.counters().max_cost_exceeded == 1);
  }

  TEST_CASE("stand-in fault knobs: 429 and 5xx and dropped and delayed answers") {
    test::admin_api_stand_in api;
    api.put_product(make_product(1, 1));
    admin_client client(api);
    const std::string query = "query ProductById($id: ID!) { product(id: $id) { id } }";
    const std::string variables = R"({"id":"gid://shopify/Product/1"})";

    api.fail_next_with_429(2, 3);
    for (int i = 0; i < 2; ++i) {
      const auto r = client.post(query, variables);
      CHECK(r.status == 429);
      CHECK(r.header("Retry-After") == "3");
    }
    CHECK(client.post(query, variables).status == 200);

    api.fail_next_with_status(1, 502);
    CHECK(client.post(query, variables).status == 502);
    CHECK(client.post(query, variables).status == 200);

    // A fresh connection, so our client does not resend on a new one.
    api.drop_next(1);
    {
      admin_client fresh(api);
      CHECK_THROWS_AS(fresh.post(query, variables), net::transport_error);
      CHECK(fresh.post(query, variables).status == 200);
    }

    api.delay_next(1, std::chrono::milliseconds(300));
    const auto start = std::chrono::steady_clock::now();
    CHECK(client.post(query, variables).status == 200);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));

    const auto counters = api.counters();
    CHECK(counters.injected_429 == 2);
    CHECK(counters.injected_5xx == 1);
    CHECK(counters.injected_drops == 1);
    CHECK(counters.injected_delays == 1);
    CHECK(counters.of("ProductById") == 8);

    // A hook that throws gets the request a 500, and the server lives on.
    api.on_request([](std::string_view) { throw std::runtime_error("hook failed"); });
    CHECK(client.post(query, variables).status == 500);
    api.on_request({});
    CHECK(client.post(query, variables).status == 200);
  }

  TEST_CASE("stand-in answers 401 to a wrong or missing token and records the api version") {
    test::admin_api_stand_in api;
    admin_client client(api);
    client.token = "shpat_wrong";
    client.version = "2026-07";
    const auto wrong = client.post("query ProductById($id: ID!) { product(id: $id) { id } }",
                                   R"({"id":"gid://shopify/Product/1"})");
    CHECK(wrong.status == 401);
    CHECK(
        wrong.body ==
        R"x({"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"})x");
    const auto missing = client.http.request(
        "POST", test::admin_api_stand_in::graphql_target(), {{"Content-Type", "application/json"}},
        R"({"query":"query ProductById($id: ID!) { product(id: $id) { id } }","variables":{}})");
    CHECK(missing.status == 401);
    const auto counters = api.counters();
    CHECK(counters.unauthorized == 2);
    CHECK(counters.api_versions == std::vector<std::string>{"2026-07", "2026-10"});
  }

  TEST_CASE("stand-in serves a generated catalog whole by bulk and by pages") {
    test::admin_api_stand_in api;
    const std::size_t products = 3000;
    std::size_t variants = 0;
    api.fill(products, [&](std::size_t i) {
      auto p = test::catalog_product(i);
      variants += p.variants.size();
      return p;
    });
    REQUIRE(api.product_count() == products);
    api.set_bulk_complete_at_start(true);
    admin_client client(api);
    const auto started = client.start_bulk();
    const auto status =
        client.bulk_status(text(started["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]));
    const auto& node = status["data"]["bulkOperation"];
    CHECK(text(node["objectCount"]) == std::to_string(products + variants));
    const auto lines = download(text(node["url"]));
    CHECK(lines.size() == products + variants);
    std::size_t parents = 0;
    for (const auto& line : lines) {
      const auto d = parse(line);
      parents += d.HasMember("__parentId") ? 0 : 1;
    }
    CHECK(parents == products);

    // Pages of 9 (the most a 1,000-point query may ask for), with a bucket
    // that refills faster than any walk can drain it: this test is about
    // the catalog being whole, not throttling. (At 100,000 points a second,
    // about what a page of ~100 points a millisecond takes, a fast machine
    // did drain it and was throttled.)
    api.set_bucket(20000, 1e9);
    std::size_t seen = 0;
    std::size_t seen_variants = 0;
    std::string after = "null";
    for (;;) {
      const auto page = client.products_page(9, after);
      REQUIRE_MESSAGE(page.HasMember("data"), "throttled or failed");
      const auto& connection = page["data"]["products"];
      for (const auto& product : connection["nodes"].GetArray()) {
        ++seen;
        seen_variants += product["variants"]["nodes"].Size();
      }
      if (!connection["pageInfo"]["hasNextPage"].GetBool()) {
        break;
      }
      after = "\"" + text(connection["pageInfo"]["endCursor"]) + "\"";
    }
    CHECK(seen == products);
    CHECK(seen_variants == variants); // none has over 100
    CHECK(api.counters().throttled == 0);
  }

  TEST_CASE("stand-in groups bulk output only when groupObjects is true, the default false since "
            "2026-01") {
    test::admin_api_stand_in api;
    for (std::int64_t id = 1; id <= 3; ++id) {
      api.put_product(make_product(id, 2));
    }
    api.set_bulk_complete_at_start(true);
    admin_client client(api);
    // Whether each variant line follows its product's line or another
    // variant of it: the grouped shape the reconcile reader needs.
    const auto result_of = [&](const rapidjson::Document& started) {
      const auto& run = started["data"]["bulkOperationRunQuery"];
      REQUIRE_MESSAGE(run["bulkOperation"].IsObject(), "not started");
      const auto done = client.bulk_status(text(run["bulkOperation"]["id"]));
      CHECK(text(done["data"]["bulkOperation"]["objectCount"]) == "9");
      CHECK(text(done["data"]["bulkOperation"]["rootObjectCount"]) == "3");
      const auto lines = download(text(done["data"]["bulkOperation"]["url"]));
      REQUIRE(lines.size() == 9);
      std::string parent;
      bool grouped = true;
      std::set<std::string> seen_products;
      for (const auto& line : lines) {
        const auto d = parse(line);
        if (d.HasMember("__parentId")) {
          // Children always come after their parent, grouped or not.
          CHECK(seen_products.count(text(d["__parentId"])) == 1);
          grouped = grouped && text(d["__parentId"]) == parent;
        } else {
          parent = text(d["id"]);
          seen_products.insert(parent);
        }
      }
      return grouped;
    };

    CHECK(result_of(client.start_bulk("true")));
    CHECK(api.counters().bulk_ungrouped == 0);
    CHECK_FALSE(result_of(client.start_bulk("false")));
    CHECK_FALSE(result_of(client.start_bulk(""))); // 2026-10: false unless given
    CHECK(api.counters().bulk_ungrouped == 2);
    CHECK(result_of(client.start_bulk("$group", R"(,"group":true)")));
    CHECK_FALSE(result_of(client.start_bulk("$group", R"(,"group":false)")));
    const auto missing = client.start_bulk("$group");
    CHECK(text(missing["errors"][0]["message"]).find("$group") != std::string::npos);
    client.version = "2025-10"; // before 2026-01, grouping was the default
    CHECK(result_of(client.start_bulk("")));
    CHECK(api.counters().bulk_ungrouped == 3);
    CHECK(api.counters().bulk_started == 6);
  }

  TEST_CASE("stand-in bulk query started elsewhere refuses starts until it completes") {
    test::admin_api_stand_in api;
    api.put_product(make_product(1, 1));
    admin_client client(api);
    const std::string elsewhere = api.start_bulk_operation_elsewhere(2);
    CHECK(elsewhere.rfind("gid://shopify/BulkOperation/", 0) == 0);

    const auto refused = client.start_bulk();
    const auto& run = refused["data"]["bulkOperationRunQuery"];
    CHECK(run["bulkOperation"].IsNull());
    CHECK(text(run["userErrors"][0]["code"]) == "OPERATION_IN_PROGRESS");
    CHECK(text(run["userErrors"][0]["message"]) ==
          "A bulk query operation for this app and shop is already in progress: " + elsewhere +
              ".");
    CHECK(run["userErrors"][0]["field"].IsNull());

    // Found among the app's running bulk queries, newest first, and by id.
    const auto listed = client.bulk_operations(5, "operation_type:query status:running");
    REQUIRE(listed["data"]["bulkOperations"]["nodes"].Size() == 1);
    CHECK(text(listed["data"]["bulkOperations"]["nodes"][0]["id"]) == elsewhere);
    CHECK(listed["extensions"]["cost"]["requestedQueryCost"].GetInt() == 7);
    const auto listed_under = [&](const std::string& filter) {
      return client.bulk_operations(5, filter)["data"]["bulkOperations"]["nodes"].Size();
    };
    CHECK(listed_under("status:completed") == 0);
    CHECK(listed_under("operation_type:mutation status:running") == 0);
    const auto unsupported = client.bulk_operations(5, "type:QUERY");
    CHECK(text(unsupported["errors"][0]["message"]).find("unsupported") != std::string::npos);

    // Two polls answer RUNNING, the third completes it; then ours starts.
    for (int i = 0; i < 2; ++i) {
      CHECK(text(client.bulk_status(elsewhere)["data"]["bulkOperation"]["status"]) == "RUNNING");
      CHECK(client.start_bulk()["data"]["bulkOperationRunQuery"]["bulkOperation"].IsNull());
    }
    const auto ended = client.bulk_status(elsewhere);
    CHECK(text(ended["data"]["bulkOperation"]["status"]) == "COMPLETED");
    CHECK(text(ended["data"]["bulkOperation"]["rootObjectCount"]) == "1");
    const auto ours = client.start_bulk();
    const auto& started = ours["data"]["bulkOperationRunQuery"];
    CHECK(started["userErrors"].Size() == 0);
    const std::string ours_id = text(started["bulkOperation"]["id"]);
    CHECK(ours_id != elsewhere);
    const auto now_running = client.bulk_operations(5, "operation_type:query status:created");
    REQUIRE(now_running["data"]["bulkOperations"]["nodes"].Size() == 1);
    CHECK(text(now_running["data"]["bulkOperations"]["nodes"][0]["id"]) == ours_id);
    CHECK(client.bulk_operations(1, "")["data"]["bulkOperations"]["nodes"].Size() == 1);
    CHECK(listed_under("") == 2);
    const auto counters = api.counters();
    CHECK(counters.bulk_in_progress == 3);
    CHECK(counters.bulk_started == 1); // the one elsewhere is not ours
    rapidjson::Document done;
    REQUIRE(poll_until_done(client, ours_id, done) == "COMPLETED");

    // A message without the operation's id, and one that never ends.
    api.set_bulk_in_progress_names_operation(false);
    const std::string stuck = api.start_bulk_operation_elsewhere(-1);
    const auto unnamed = client.start_bulk();
    CHECK(text(unnamed["data"]["bulkOperationRunQuery"]["userErrors"][0]["message"]) ==
          "A bulk query operation for this app and shop is already in progress.");
    for (int i = 0; i < 20; ++i) {
      CHECK(text(client.bulk_status(stuck)["data"]["bulkOperation"]["status"]) == "RUNNING");
    }
    CHECK(client.start_bulk()["data"]["bulkOperationRunQuery"]["bulkOperation"].IsNull());
  }

  TEST_CASE("stand-in miscounts the root objects of the next bulk operation when asked") {
    test::admin_api_stand_in api;
    for (std::int64_t id = 1; id <= 3; ++id) {
      api.put_product(make_product(id, 2));
    }
    api.set_bulk_complete_at_start(true);
    admin_client client(api);
    api.miscount_next_bulk_roots(1);
    const auto first = client.start_bulk();
    const auto miscounted =
        client.bulk_status(text(first["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]));
    CHECK(text(miscounted["data"]["bulkOperation"]["rootObjectCount"]) == "4");
    CHECK(text(miscounted["data"]["bulkOperation"]["objectCount"]) == "9");
    CHECK(download(text(miscounted["data"]["bulkOperation"]["url"])).size() == 9);
    const auto second = client.start_bulk();
    const auto counted =
        client.bulk_status(text(second["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]));
    CHECK(text(counted["data"]["bulkOperation"]["rootObjectCount"]) == "3");
    // An empty result has no file.
    api.clear_catalog();
    const auto empty = client.start_bulk();
    const auto none =
        client.bulk_status(text(empty["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]));
    CHECK(text(none["data"]["bulkOperation"]["status"]) == "COMPLETED");
    CHECK(text(none["data"]["bulkOperation"]["objectCount"]) == "0");
    CHECK(none["data"]["bulkOperation"]["url"].IsNull());
  }

  TEST_CASE("stand-in answers Expect 100-continue before the body") {
    test::admin_api_stand_in api;
    const std::string body =
        R"({"query":"query ProductById($id: ID!) { product(id: $id) { id } }","variables":{"id":"gid://shopify/Product/1"}})";
    const std::string raw = test::raw_exchange(
        api.port(), "POST " + test::admin_api_stand_in::graphql_target() +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "X-Shopify-Access-Token: " +
                        api.access_token() +
                        "\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
    CHECK(raw.rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
    CHECK(raw.find("HTTP/1.1 200 OK\r\n") != std::string::npos);
    CHECK(raw.find(R"("product":null)") != std::string::npos);
  }

} // TEST_SUITE
