#include "db/run_vocabulary.hpp"
#include "model/fingerprint.hpp"
#include "model/graphql_product.hpp"
#include "model/webhook_payload.hpp"
#include "reconcile/bulk_jsonl.hpp"
#include "reconcile/bulk_operation.hpp"
#include "reconcile/coordinator.hpp"
#include "reconcile/cost_bucket.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <rapidjson/document.h>

using namespace shopmirror;
using namespace std::chrono_literals;

namespace {

model::product_state graphql_state(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  auto mapped = model::map_graphql_product(doc);
  if (const auto* error = std::get_if<model::graphql_error>(&mapped)) {
    FAIL("mapping failed: " << error->reason);
  }
  return std::get<model::product_state>(mapped);
}

std::string graphql_error_of(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  auto mapped = model::map_graphql_product(doc);
  REQUIRE(std::holds_alternative<model::graphql_error>(mapped));
  return std::get<model::graphql_error>(mapped).reason;
}

// Two products as a bulk operation writes them: each product's line, then
// its variants' lines naming it in __parentId.
const std::string bulk_result =
    R"({"id":"gid://shopify/Product/9007199254740993","title":"Big id","handle":"big","vendor":"V","productType":"T","status":"DRAFT","tags":[" a ","b"],"descriptionHtml":"<p>x</p>","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-02-01T00:00:00Z","publishedAt":null})"
    "\n"
    R"({"id":"gid://shopify/ProductVariant/9007199254740995","sku":"S-1","title":"One","price":"10.10","compareAtPrice":null,"position":2,"selectedOptions":[{"name":"Size","value":"L"},{"name":"Color","value":"Red"}],"barcode":"123","inventoryQuantity":-3,"updatedAt":"2026-02-01T00:00:00Z","__parentId":"gid://shopify/Product/9007199254740993"})"
    "\n"
    R"({"id":"gid://shopify/ProductVariant/7","sku":"S-2","title":"Two","price":"0.5","compareAtPrice":"1.00","position":1,"selectedOptions":[],"barcode":null,"inventoryQuantity":null,"updatedAt":"2026-02-01T00:00:00Z","__parentId":"gid://shopify/Product/9007199254740993"})"
    "\r\n"
    R"({"id":"gid://shopify/Product/5","title":"No variants","handle":"nv","vendor":null,"productType":"","status":"ARCHIVED","tags":[],"descriptionHtml":"","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-03-01T00:00:00Z","publishedAt":"2026-01-02T00:00:00Z"})"
    "\n";

struct bulk_read {
  std::vector<db::listed_product> products;
  std::vector<db::failed_product> failed;
  std::size_t lines = 0;
  std::size_t roots = 0;
  std::size_t unreadable = 0;
};

bulk_read read_bulk(const std::string& text, std::size_t piece) {
  bulk_read out;
  reconcile::bulk_jsonl_reader reader(
      [&](db::listed_product p) { out.products.push_back(std::move(p)); },
      [&](db::failed_product f) { out.failed.push_back(std::move(f)); });
  for (std::size_t at = 0; at < text.size(); at += piece) {
    reader.feed(std::string_view(text).substr(at, piece));
  }
  reader.finish();
  out.lines = reader.lines();
  out.roots = reader.roots();
  out.unreadable = reader.unreadable();
  return out;
}

/// The products of a result that must read without a failure.
std::vector<db::listed_product> read_in_pieces(const std::string& text, std::size_t piece) {
  bulk_read read = read_bulk(text, piece);
  for (const auto& f : read.failed) {
    INFO(f.reason);
  }
  REQUIRE(read.failed.empty());
  return std::move(read.products);
}

/// The one failure a damaged result must come to, its reason checked.
db::failed_product one_failure(const bulk_read& read, std::string_view reason) {
  REQUIRE(read.failed.size() == 1);
  INFO(read.failed[0].reason);
  CHECK(read.failed[0].reason.find(reason) != std::string::npos);
  return read.failed[0];
}

} // namespace

TEST_SUITE("reconcile") {

  TEST_CASE("a product from GraphQL maps to the same state as its webhook") {
    const auto webhook = model::map_product_webhook(
        model::product_topic::create,
        test::fixture("shopify/products-create.shopify-reference-sample.json"));
    REQUIRE(std::holds_alternative<model::product_state>(webhook));
    const model::product_state from_graphql =
        graphql_state(test::fixture("shopify/graphql-product.same-as-products-create.json"));
    const auto& from_webhook = std::get<model::product_state>(webhook);
    CHECK(from_graphql.id == 788032119674292922);
    CHECK(from_graphql.status == std::optional<std::string>("active"));
    CHECK(from_graphql.variants.size() == 2);
    CHECK(from_graphql == from_webhook);
  }

  TEST_CASE("a product's taxonomy category reads the same from its webhook and from GraphQL") {
    const auto webhook = model::map_product_webhook(
        model::product_topic::update, test::fixture("shopify/products-update.with-category.json"));
    REQUIRE(std::holds_alternative<model::product_state>(webhook));
    const auto& from_webhook = std::get<model::product_state>(webhook);
    REQUIRE(from_webhook.category);
    CHECK(from_webhook.category->id == "gid://shopify/TaxonomyCategory/aa-2-14-3");
    CHECK(from_webhook.category->name == "Hair Extensions");
    CHECK(from_webhook.category->full_name ==
          "Apparel & Accessories > Clothing Accessories > Hair Accessories > Hair Extensions");
    CHECK(model::is_whole(from_webhook));
    const model::product_state from_graphql =
        graphql_state(test::fixture("shopify/graphql-product.with-category.json"));
    CHECK(from_graphql == from_webhook);
    CHECK(model::content_fingerprint(from_graphql) == model::content_fingerprint(from_webhook));

    // A category in the wrong shape is refused, never stored half-read.
    CHECK(
        graphql_error_of(
            R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z","category":{"id":"gid://shopify/TaxonomyCategory/aa-1","name":"Shirts"}})")
            .find("category.fullName") != std::string::npos);
    CHECK(
        graphql_error_of(
            R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z","category":{"id":"gid://shopify/Collection/1","name":"a","fullName":"a"}})")
            .find("TaxonomyCategory") != std::string::npos);
    CHECK(
        graphql_error_of(
            R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z","category":"Shirts"})")
            .find("category is not an object") != std::string::npos);
  }

  TEST_CASE("a GraphQL product without a Product gid or updatedAt is refused") {
    CHECK(graphql_error_of(
              R"({"id":"gid://shopify/ProductVariant/1","updatedAt":"2026-01-01T00:00:00Z"})")
              .find("Product gid") != std::string::npos);
    CHECK(graphql_error_of(R"({"id":"gid://shopify/Product/1"})").find("updatedAt") !=
          std::string::npos);
    CHECK(
        graphql_error_of(
            R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z","tags":"a, b"})")
            .find("tags") != std::string::npos);
    CHECK(
        graphql_error_of(
            R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z","variants":{"nodes":[{"id":"gid://shopify/ProductVariant/2","price":"ten"}]}})")
            .find("price") != std::string::npos);
    // Its serialization is the source document, and jsonb refuses \u0000.
    CHECK(
        graphql_error_of(
            R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z","variants":{"nodes":[{"id":"gid://shopify/ProductVariant/2","sku":"a\u0000"}]}})")
            .find("NUL") != std::string::npos);
  }

  TEST_CASE("bulk JSONL joins variants to their product whatever the piece size") {
    for (const std::size_t piece :
         {std::size_t{1}, std::size_t{7}, std::size_t{64}, bulk_result.size()}) {
      CAPTURE(piece);
      const auto products = read_in_pieces(bulk_result, piece);
      REQUIRE(products.size() == 2);
      const model::product_state& big = products[0].state;
      CHECK(big.id == 9007199254740993); // above 2^53: exact
      CHECK(big.status == std::optional<std::string>("draft"));
      CHECK(big.tags == std::vector<std::string>{"a", "b"});
      CHECK_FALSE(big.published_at.has_value());
      REQUIRE(big.variants.size() == 2);
      // canonical order: by position
      CHECK(big.variants[0].id == 7);
      CHECK(big.variants[0].price == std::optional<std::string>("0.5"));
      CHECK_FALSE(big.variants[0].option1.has_value());
      CHECK(big.variants[1].id == 9007199254740995);
      CHECK(big.variants[1].option1 == std::optional<std::string>("L"));
      CHECK(big.variants[1].option2 == std::optional<std::string>("Red"));
      CHECK_FALSE(big.variants[1].option3.has_value());
      CHECK(big.variants[1].inventory_quantity == std::optional<std::int64_t>(-3));
      CHECK(products[1].state.id == 5);
      CHECK(products[1].state.variants.empty());
      // The source is one JSON document: the product with its variants.
      rapidjson::Document source;
      source.Parse(products[0].source.c_str());
      REQUIRE_FALSE(source.HasParseError());
      CHECK(source["variants"]["nodes"].Size() == 2);
      CHECK(std::string(source["title"].GetString()) == "Big id");
      const bulk_read counted = read_bulk(bulk_result, piece);
      CHECK(counted.lines == 4);
      CHECK(counted.roots == 2);
      CHECK(counted.unreadable == 0);
    }
  }

  TEST_CASE("bulk JSONL fails a product it cannot read and reads the others") {
    const std::string good =
        R"({"id":"gid://shopify/Product/5","updatedAt":"2026-01-01T00:00:00Z"})"
        "\n";
    // A variant that does not follow its product: that product failed, by id.
    const std::string orphan =
        R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z"})"
        "\n"
        R"({"id":"gid://shopify/ProductVariant/2","__parentId":"gid://shopify/Product/3"})"
        "\n"
        R"({"id":"gid://shopify/ProductVariant/4","__parentId":"gid://shopify/Product/3"})"
        "\n";
    bulk_read read = read_bulk(orphan + good, 5);
    CHECK(one_failure(read, "does not follow").product_id == std::optional<std::int64_t>(3));
    REQUIRE(read.products.size() == 2);
    CHECK(read.products[0].state.id == 1);
    CHECK(read.products[1].state.id == 5);

    // A product whose variant cannot be mapped: failed whole, never half.
    read = read_bulk(
        R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z"})"
        "\n"
        R"({"id":"gid://shopify/ProductVariant/2","price":"ten","__parentId":"gid://shopify/Product/1"})"
        "\n" +
            good,
        7);
    CHECK(one_failure(read, "price").product_id == std::optional<std::int64_t>(1));
    REQUIRE(read.products.size() == 1);
    CHECK(read.products[0].state.id == 5);

    // An unreadable line: a failure without a product, and the product it
    // may have belonged to is not known whole.
    read = read_bulk(R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z"})"
                     "\n{not json}\n" +
                         good,
                     3);
    REQUIRE(read.failed.size() == 2);
    CHECK(read.failed[0].product_id == std::nullopt);
    CHECK(read.failed[1].product_id == std::optional<std::int64_t>(1));
    REQUIRE(read.products.size() == 1);
    CHECK(read.products[0].state.id == 5);
    CHECK(read.lines == 3);
    CHECK(read.roots == 2);
    CHECK(read.unreadable == 1);
    CHECK_FALSE(read_bulk("{not json}\n", 3).failed.at(0).product_id.has_value());
  }

  TEST_CASE("bulk JSONL fails a line that jsonb would not store as read") {
    const std::string product =
        R"({"id":"gid://shopify/Product/1","updatedAt":"2026-01-01T00:00:00Z"})"
        "\n";
    const std::string variant =
        R"({"id":"gid://shopify/ProductVariant/2","__parentId":"gid://shopify/Product/1"})";
    // RapidJSON reads a raw NUL as the end of its input: the line would parse,
    // and the source document built from it would not.
    bulk_read read = read_bulk(product + variant + std::string("\0junk\n", 6), 4);
    CHECK(read.products.empty());
    REQUIRE(read.failed.size() == 2);
    CHECK(read.failed[0].reason.find("NUL byte") != std::string::npos);
    CHECK(read.failed[1].product_id == std::optional<std::int64_t>(1));
    read = read_bulk(std::string(R"({"id":"gid://shopify/Product/1","updatedAt":)"
                                 R"("2026-01-01T00:00:00Z"})") +
                         std::string("\0}\n", 3),
                     64);
    CHECK(read.products.empty());
    one_failure(read, "NUL byte");
    read = read_bulk(product + R"({"id":"gid://shopify/ProductVariant/2",)"
                               R"("__parentId":"gid://shopify/Product/1","title":"a\u0000b"})"
                               "\n",
                     9);
    CHECK(read.products.empty());
    REQUIRE(read.failed.size() == 2);
    CHECK(read.failed[0].reason.find("NUL character") != std::string::npos);
    CHECK(read.failed[1].product_id == std::optional<std::int64_t>(1));
    read = read_bulk(R"({"id":"gid://shopify/Product/1","x":)" + std::string(5000, '[') +
                         std::string(5000, ']') + "}\n",
                     4096);
    CHECK(read.products.empty());
    one_failure(read, "nests deeper");
    // The same lines without the damage read as one product with its variant.
    CHECK(read_in_pieces(product + variant + "\n", 4).at(0).state.variants.size() == 1);
  }

  namespace {

  rapidjson::Document json(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
  }

  reconcile::bulk_start_refusal refusal_of(const std::string& payload) {
    const auto doc = json(payload);
    return reconcile::read_bulk_start_refusal(&doc);
  }

  } // namespace

  TEST_CASE("a BulkOperation is read with its counts as strings and its times") {
    const auto doc = json(
        R"({"id":"gid://shopify/BulkOperation/720918","status":"COMPLETED","errorCode":null,)"
        R"("createdAt":"2026-11-28T03:00:01Z","completedAt":"2026-11-28T03:04:10Z",)"
        R"("objectCount":"18446744073709551615","rootObjectCount":"57","url":"https://x/r.jsonl",)"
        R"("partialDataUrl":null})");
    const auto op = reconcile::read_bulk_operation(doc);
    CHECK(op.id == "gid://shopify/BulkOperation/720918");
    CHECK(op.status == "COMPLETED");
    CHECK(op.ended());
    CHECK(op.error_code.empty());
    CHECK(op.object_count == std::optional<std::uint64_t>(18446744073709551615u));
    CHECK(op.root_object_count == std::optional<std::uint64_t>(57));
    CHECK(op.url == "https://x/r.jsonl");
    CHECK(op.partial_data_url.empty());
    REQUIRE(op.created_at);
    REQUIRE(op.completed_at);
    CHECK(op.completed_at->micros_since_epoch - op.created_at->micros_since_epoch == 249000000);

    const auto odd = reconcile::read_bulk_operation(json(
        R"({"status":"RUNNING","objectCount":12,"rootObjectCount":"12a","createdAt":"soon"})"));
    CHECK_FALSE(odd.ended());
    CHECK(odd.object_count == std::optional<std::uint64_t>(12));
    CHECK_FALSE(odd.root_object_count.has_value());
    CHECK_FALSE(odd.created_at.has_value());
    CHECK_FALSE(odd.completed_at.has_value());
    for (const char* status : {"CREATED", "RUNNING", "CANCELING"}) {
      reconcile::bulk_operation_state s;
      s.status = status;
      CHECK_FALSE(s.ended());
    }
    for (const char* status : {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}) {
      reconcile::bulk_operation_state s;
      s.status = status;
      CHECK(s.ended());
    }
  }

  TEST_CASE("a start refused because a bulk query is in progress names the operation") {
    const auto named = refusal_of(
        R"({"bulkOperation":null,"userErrors":[{"field":null,"message":"A bulk query operation )"
        R"(for this app and shop is already in progress: gid://shopify/BulkOperation/4039184154813.",)"
        R"("code":"OPERATION_IN_PROGRESS"}]})");
    CHECK(named.in_progress);
    CHECK(named.running_id ==
          std::optional<std::string>("gid://shopify/BulkOperation/4039184154813"));
    CHECK(named.message.find("already in progress") != std::string::npos);

    // The code alone, with Shopify's enum text: in progress, id unknown.
    const auto unnamed = refusal_of(
        R"({"userErrors":[{"field":["query"],"message":"Bulk query is invalid.","code":"INVALID"},)"
        R"({"field":null,"message":"A bulk operation is already in progress.","code":"OPERATION_IN_PROGRESS"}]})");
    CHECK(unnamed.in_progress);
    CHECK_FALSE(unnamed.running_id.has_value());
    CHECK(unnamed.message == "A bulk operation is already in progress.");

    // The message without a code (the code not selected, or not sent).
    CHECK(refusal_of(R"({"userErrors":[{"field":null,"message":"A bulk query operation for this )"
                     R"(app and shop is already in progress: gid://shopify/BulkOperation/7."}]})")
              .running_id == std::optional<std::string>("gid://shopify/BulkOperation/7"));

    // Anything else is a refusal to give up on.
    const std::string limit =
        R"({"userErrors":[{"field":null,"message":"Bulk operations limit reached. Please try )"
        R"(again later.","code":"LIMIT_REACHED"}]})";
    const std::string other =
        R"({"userErrors":[{"field":null,"message":"Access denied: already in progress?",)"
        R"("code":"INVALID"}]})";
    const std::string none = R"({"bulkOperation":null,"userErrors":[]})";
    for (const std::string& payload : {limit, other, none}) {
      CAPTURE(payload);
      const auto refusal = refusal_of(payload);
      CHECK_FALSE(refusal.in_progress);
      CHECK_FALSE(refusal.message.empty());
    }
    CHECK(reconcile::read_bulk_start_refusal(nullptr).message == "no operation returned");
    CHECK(refusal_of(R"({"userErrors":[{"message":"in progress: gid://shopify/BulkOperation/",)"
                     R"("code":"OPERATION_IN_PROGRESS"}]})")
              .running_id == std::nullopt);
  }

  TEST_CASE("a bulk result must hold the objects and the products Shopify counted") {
    reconcile::bulk_operation_state op;
    op.id = "gid://shopify/BulkOperation/1";
    op.object_count = 10;
    op.root_object_count = 4;
    CHECK(reconcile::bulk_count_mismatch(op, 10, 4, 0).empty());
    CHECK(reconcile::bulk_count_mismatch(op, 9, 4, 0) ==
          "the bulk result of gid://shopify/BulkOperation/1 holds 9 objects, Shopify counted 10");
    CHECK(reconcile::bulk_count_mismatch(op, 10, 3, 0) ==
          "the bulk result of gid://shopify/BulkOperation/1 holds 3 products, Shopify counted 4");
    CHECK(reconcile::bulk_count_mismatch(op, 10, 5, 0).find("holds 5 products") !=
          std::string::npos);
    // An unparseable line may have been a product or a variant.
    CHECK(reconcile::bulk_count_mismatch(op, 10, 3, 1).empty());
    CHECK(reconcile::bulk_count_mismatch(op, 10, 4, 1).empty());
    CHECK(reconcile::bulk_count_mismatch(op, 10, 2, 1) ==
          "the bulk result of gid://shopify/BulkOperation/1 holds 2 products (and 1 unreadable "
          "lines), Shopify counted 4");
    CHECK(reconcile::bulk_count_mismatch(op, 10, 5, 1).find("holds 5 products") !=
          std::string::npos);
    op.root_object_count.reset();
    CHECK(reconcile::bulk_count_mismatch(op, 10, 4, 0).find("Shopify counted none") !=
          std::string::npos);
    op.object_count.reset();
    CHECK(reconcile::bulk_count_mismatch(op, 10, 4, 0).find("10 objects, Shopify counted none") !=
          std::string::npos);
  }

  TEST_CASE("the cost bucket waits only for what does not fit") {
    reconcile::cost_bucket bucket;
    const auto t0 = reconcile::cost_bucket::clock::time_point{} + 1h;
    CHECK(bucket.wait_for(1000, t0) == 0s); // unknown: the first request teaches it
    bucket.update({1000, 100, 50}, t0);
    CHECK(bucket.wait_for(100, t0) == 0s);
    // 200 missing at 50 a second: 4 s, plus the small margin.
    const auto wait = std::chrono::duration<double>(bucket.wait_for(300, t0)).count();
    CHECK(wait == doctest::Approx(4.05).epsilon(0.01));
    CHECK(bucket.wait_for(300, t0 + 4s + 100ms) == 0s);
    bucket.charge(300, t0 + 5s); // 100 + 250 - 300 = 50 left
    CHECK(std::chrono::duration<double>(bucket.wait_for(100, t0 + 5s)).count() ==
          doctest::Approx(1.05).epsilon(0.01));
    // Never more than the bucket holds.
    CHECK(bucket.wait_for(5000, t0 + 1000s) == 0s);
    CHECK(bucket.capacity() == std::optional<double>(1000));
  }

  TEST_CASE("the daily run is today if still ahead and else tomorrow") {
    constexpr std::int64_t day = 86400;
    const std::int64_t midnight = 20000 * day;
    CHECK(reconcile::next_daily_run(midnight, 180) == midnight + 3 * 3600);
    CHECK(reconcile::next_daily_run(midnight + 3 * 3600 - 1, 180) == midnight + 3 * 3600);
    CHECK(reconcile::next_daily_run(midnight + 3 * 3600, 180) == midnight + day + 3 * 3600);
    CHECK(reconcile::next_daily_run(midnight + 23 * 3600, 0) == midnight + day);
  }

  TEST_CASE("a run's status, mode and trigger read back as they are written") {
    using namespace db;
    for (const auto status :
         {run_status::running, run_status::succeeded, run_status::held, run_status::failed,
          run_status::interrupted, run_status::superseded}) {
      CHECK(parse_run_status(to_string(status)) == status);
    }
    for (const auto mode : {run_mode::bulk, run_mode::paginated, run_mode::since}) {
      CHECK(parse_run_mode(to_string(mode)) == mode);
    }
    for (const auto trigger : {run_trigger::schedule, run_trigger::api, run_trigger::command}) {
      CHECK(parse_run_trigger(to_string(trigger)) == trigger);
    }
    CHECK(to_string(run_status::superseded) == "superseded");
    CHECK(to_string(run_mode::paginated) == "paginated");
    CHECK(to_string(run_trigger::schedule) == "schedule");
    CHECK_FALSE(parse_run_status("Succeeded").has_value());
    // An operator picks bulk or paginated; since follows from a since time.
    CHECK(parse_listing_mode("bulk") == run_mode::bulk);
    CHECK(parse_listing_mode("paginated") == run_mode::paginated);
    CHECK_FALSE(parse_listing_mode("since").has_value());
    CHECK_FALSE(parse_listing_mode("").has_value());
  }

} // TEST_SUITE
