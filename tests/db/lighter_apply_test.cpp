// Migration 0012 (0012_lighter_apply.sql): the source document stored as
// json, as received; a whole state's variants written in one statement; and
// the upgrade from 0011 with rows, views and grants in place.

#include "db/delivery_store.hpp"
#include "db/errors.hpp"
#include "db/migrate.hpp"
#include "db/migrations.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace shopmirror;
using model::apply_outcome;
using test::item_from_body;
using test::product_json;

namespace {

// The schema as the release before left it: migrations 1 to `version`.
void migrate_to(const test::test_database& db, int version) {
  db.execute("create schema if not exists shopify");
  db.execute("create table shopify.schema_migrations (version integer primary key, "
             "name text not null, applied_at timestamptz not null default now())");
  for (const db::migration& step : db::migrations()) {
    if (step.version > version) {
      break;
    }
    db.execute("begin; " + std::string(step.sql) +
               "; insert into shopify.schema_migrations (version, name) values (" +
               std::to_string(step.version) + ", '" + std::string(step.name) + "'); commit;");
  }
}

test::variant_spec variant(std::int64_t id, const std::string& price = "10.00") {
  return {.id = id, .price = price, .sku = "", .position = 1, .inventory = 0};
}

apply_outcome apply_one(const test::test_database& db, const std::string& body,
                        const std::string& webhook_id) {
  db::delivery_store store(db.settings());
  const std::vector<model::delivery_item> batch = {
      item_from_body("products/update", body, webhook_id, std::nullopt)};
  return store.apply(batch).at(0);
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("the source document is stored as received and stays queryable") {
    test::test_database db;
    // Keys out of jsonb's order and spacing jsonb would drop: kept as sent.
    const std::string body =
        R"({"title": "Spaced",  "id": 81, "updated_at": "2026-03-01T00:00:00Z", "status": "active",)"
        R"( "tags": "", "handle": "spaced", "variants": [{"id": 811, "price": "2.50", "position": 1}]})";
    REQUIRE(apply_one(db, body, "s1") == apply_outcome::applied);
    CHECK(db.scalar("select pg_typeof(source)::text from shopify.products") == "json");
    CHECK(db.scalar("select source::text from shopify.products where product_id = 81") == body);
    CHECK(db.scalar("select source->>'title' || ' ' || (source #>> '{variants,0,price}') "
                    "from shopify.live_products where product_id = 81") == "Spaced 2.50");
    // jsonb's operators through a cast.
    CHECK(db.scalar("select source::jsonb @> '{\"handle\": \"spaced\"}' from shopify.products") ==
          "t");
  }

  TEST_CASE("a whole state's variants: unlisted go, changed are rewritten, unchanged are left, "
            "and one moved between products of a batch follows") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const auto first = [](std::int64_t id, std::vector<test::variant_spec> variants) {
      return product_json({id, "P", "2026-04-01T00:00:00Z", "", "active", std::move(variants)});
    };
    const std::vector<model::delivery_item> created = {
        item_from_body("products/create", first(91, {variant(911), variant(912), variant(913)}),
                       "c1", std::nullopt),
        item_from_body("products/create", first(92, {variant(921)}), "c2", std::nullopt)};
    REQUIRE(store.apply(created) ==
            std::vector<apply_outcome>{apply_outcome::applied, apply_outcome::applied});
    const std::string unchanged_row =
        db.scalar("select ctid::text from shopify.product_variants where variant_id = 911");

    // Observed later, the same updated_at (as Shopify sends for a change
    // that does not move it, an inventory level's): 91 keeps 911 as it was,
    // reprices 912, lists 914 new, and loses 913 to 92; 92 drops 921.
    const auto second = first;
    const std::vector<model::delivery_item> updated = {
        item_from_body("products/update",
                       second(91, {variant(911), variant(912, "12.00"), variant(914)}), "u1",
                       std::nullopt),
        item_from_body("products/update", second(92, {variant(913, "13.00")}), "u2", std::nullopt)};
    REQUIRE(store.apply(updated) ==
            std::vector<apply_outcome>{apply_outcome::applied, apply_outcome::applied});
    CHECK(db.scalar("select string_agg(variant_id || ':' || product_id || ':' || price, ' ' "
                    "order by variant_id) from shopify.product_variants") ==
          "911:91:10.00 912:91:12.00 913:92:13.00 914:91:10.00");
    // Equal in every column: not rewritten (its row is where it was).
    CHECK(db.scalar("select ctid::text from shopify.product_variants where variant_id = 911") ==
          unchanged_row);
  }

  TEST_CASE("the upgrade from 0011 keeps the rows, the views and their grants") {
    test::test_database db(false);
    migrate_to(db, 11);
    const std::string body = product_json(
        {71,
         "Before",
         "2026-02-01T00:00:00Z",
         "a, b",
         "active",
         {{.id = 711, .price = "7.00", .sku = "SKU-711", .position = 1, .inventory = 0}}});
    REQUIRE(apply_one(db, body, "b1") == apply_outcome::applied);
    db.execute("grant select on shopify.live_products to public");
    const std::string before =
        db.scalar("select (source::jsonb)::text from shopify.products where product_id = 71");

    const auto result = db::migrate(db.settings());
    CHECK(result.from_version == 11);
    CHECK(result.to_version == db::latest_schema_version());
    CHECK(db.scalar("select pg_typeof(source)::text from shopify.products") == "json");
    // The same document (compared as jsonb: the old column had jsonb's text).
    CHECK(db.scalar("select (source::jsonb)::text from shopify.products where product_id = 71") ==
          before);
    CHECK(db.scalar("select p.title || ' ' || v.sku from shopify.live_products p "
                    "join shopify.live_product_variants v using (shop_domain, product_id)") ==
          "Before SKU-711");
    CHECK(db.scalar("select has_table_privilege('public', 'shopify.live_products', 'select')") ==
          "t");
    CHECK(db.scalar("select count(*) from shopify.live_variant_barcodes") == "1");
    CHECK(db.scalar("select attcompression from pg_attribute "
                    "where attrelid = 'shopify.products'::regclass and attname = 'source'") == "l");
    // And it goes on applying.
    CHECK(apply_one(db, product_json({71, "After", "2026-02-02T00:00:00Z", "a, b", "active", {}}),
                    "a1") == apply_outcome::applied);
    CHECK(db.scalar("select source->>'title' from shopify.products") == "After");
  }

  TEST_CASE("the upgrade stops, naming it, at a view of someone else's on the source") {
    test::test_database db(false);
    migrate_to(db, 11);
    db.execute("create view public.crm_titles as select source->>'title' as title "
               "from shopify.products");
    std::string message;
    try {
      db::migrate(db.settings());
    } catch (const db::database_error& e) {
      message = e.what();
    }
    CHECK(message.find("public.crm_titles") != std::string::npos);
    CHECK(message.find("source") != std::string::npos);
    // Nothing of 0012 was applied.
    CHECK(db.scalar("select max(version) from shopify.schema_migrations") == "11");
    CHECK(db.scalar("select format_type(atttypid, null) from pg_attribute "
                    "where attrelid = 'shopify.products'::regclass and attname = 'source'") ==
          "jsonb");
  }
}
