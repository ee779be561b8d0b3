// The product and variant records of the apply path: one definition per
// layer (db/product_columns.cpp's tables, the composite types and field keys
// of 0011_apply_inputs.sql), held equal here, and every field carried
// through PostgreSQL unchanged. Also the signatures of the release before,
// which a rolling upgrade still calls.

#include "db/delivery_store.hpp"
#include "db/product_columns.hpp"
#include "model/fingerprint.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <string>
#include <vector>

using namespace shopmirror;
using model::apply_outcome;

namespace {

std::string columns_in_database(const test::test_database& db, const std::string& type) {
  return db.scalar(
      "select string_agg(attname || ':' || atttypid, ' ' order by attnum) "
      "from pg_attribute where attrelid = (select typrelid from pg_type where oid = '" +
      type + "'::regtype) and attnum > 0 and not attisdropped");
}

std::string columns_in_code(std::span<const db::input_column> columns) {
  std::string out;
  for (const auto& column : columns) {
    out += (out.empty() ? "" : " ") + std::string(column.name) + ":" +
           std::to_string(static_cast<std::uint32_t>(column.type));
  }
  return out;
}

std::string hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += digits[(static_cast<unsigned char>(c) >> 4) & 0xF];
    out += digits[static_cast<unsigned char>(c) & 0xF];
  }
  return out;
}

model::product_state every_field() {
  model::product_state s;
  s.id = 7001;
  s.title = "Title \"quoted\", with commas";
  s.handle = "handle-7001";
  s.vendor = "Vendor";
  s.product_type = "Type";
  s.status = "active";
  s.tags = {"a", "b c"};
  s.body_html = "<p>Grüße</p>";
  s.created_at = model::parse_rfc3339("2026-01-01T10:00:00Z").value();
  s.updated_at = model::parse_rfc3339("2026-01-02T11:00:00.123456Z").value();
  s.published_at = model::parse_rfc3339("2026-01-03T12:00:00Z").value();
  s.category =
      model::product_category{"gid://shopify/TaxonomyCategory/aa-1", "Shirts", "Apparel > Shirts"};
  model::variant_state v;
  v.id = 70011;
  v.sku = "SKU-1";
  v.title = "Small";
  v.price = "19.99";
  v.compare_at_price = "25.00";
  v.position = 3;
  v.option1 = "S";
  v.option2 = "Red";
  v.option3 = "Cotton";
  v.barcode = "0123456789012";
  v.inventory_quantity = -4;
  v.updated_at = model::parse_rfc3339("2026-01-02T11:00:00Z").value();
  s.variants.push_back(v);
  model::variant_state bare;
  bare.id = 70012;
  bare.present = model::vf_price;
  s.variants.push_back(bare);
  return s;
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("the record types' columns and the presence bits are the code's, in order") {
    test::test_database db;
    CHECK(columns_in_database(db, "shopify.product_input") ==
          columns_in_code(db::product_input_columns()));
    CHECK(columns_in_database(db, "shopify.variant_input") ==
          columns_in_code(db::variant_input_columns()));

    std::string keys;
    for (const std::string_view key : db::field_keys()) {
      keys += (keys.empty() ? "" : ",") + std::string(key);
    }
    CHECK(db.scalar("select array_to_string(shopify.field_keys(), ',')") == keys);
    // The named bits are the model's.
    CHECK(db.scalar("select shopify.field_bit('category')") == std::to_string(model::pf_category));
    CHECK(db.scalar("select shopify.field_bit('variants')") == std::to_string(model::pf_variants));
    CHECK(db.scalar("select shopify.product_fields()") == std::to_string(model::pf_all));
    CHECK(db.scalar("select shopify.all_variant_bits()") == std::to_string(model::vf_all));
    CHECK(db.scalar("select shopify.variant_bit('variants.inventory_quantity')") ==
          std::to_string(model::vf_inventory_quantity));
  }

  TEST_CASE("every field of a product and its variants reaches PostgreSQL unchanged") {
    test::test_database db;
    pqxx::connection connection(db.url());
    pqxx::work tx(connection);
    tx.exec("set local timezone = 'UTC'");
    const db::input_types types = db::lookup_input_types(tx);
    db::product_columns columns(types);
    const model::product_state state = every_field();
    const auto observed = model::parse_rfc3339("2026-01-02T11:00:01Z").value();
    columns.add_state(state, R"({"id":7001})", observed, 1);
    columns.add_delete(7002, observed);
    columns.add_none();
    // Without its bare variant the state is whole: it goes with its
    // fingerprint.
    model::product_state whole = state;
    whole.variants.pop_back();
    columns.add_state(whole, R"({"id":7001})", observed, 4);
    std::vector<std::string> values;
    columns.take_into(values);
    REQUIRE(values.size() == 2);
    const pqxx::binarystring products(values[0].data(), values[0].size());
    const pqxx::binarystring variants(values[1].data(), values[1].size());

    const auto rows =
        tx.exec_params("select coalesce(($1::shopify.product_input[])[n]::text, 'NULL') "
                       "from generate_subscripts($1::shopify.product_input[], 1) as n order by n",
                       products);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0][0].as<std::string>() ==
          "(7001,\"2026-01-02 11:00:00.123456+00\",\"2026-01-02 11:00:01+00\",," +
              std::to_string(model::pf_all) +
              ",f,\"Title \"\"quoted\"\", with commas\",handle-7001,Vendor,Type,active,\"a,b "
              "c\",<p>Grüße</p>,\"2026-01-01 10:00:00+00\",\"2026-01-02 11:00:00.123456+00\","
              "\"2026-01-03 "
              "12:00:00+00\",\"{\"\"id\"\":7001}\",,gid://shopify/TaxonomyCategory/"
              "aa-1,Shirts,\"Apparel > Shirts\")");
    // The content is null: 17 columns after the version.
    CHECK(rows[1][0].as<std::string>() ==
          "(7002,\"2026-01-02 11:00:01+00\",\"2026-01-02 11:00:01+00\","
          "\"2026-01-02 11:00:01+00\"" +
              std::string(17, ',') + ")");
    CHECK(rows[2][0].as<std::string>() == "NULL");
    CHECK(tx.exec_params1("select (($1::shopify.product_input[])[4]).whole::text || ' ' || "
                          "encode((($1::shopify.product_input[])[4]).fingerprint, 'hex')",
                          products)[0]
              .as<std::string>() == "true " + hex(model::content_fingerprint(whole)));

    const auto variant_rows =
        tx.exec_params("select ($1::shopify.variant_input[])[n]::text "
                       "from generate_subscripts($1::shopify.variant_input[], 1) as n order by n",
                       variants);
    REQUIRE(variant_rows.size() == 3);
    CHECK(variant_rows[0][0].as<std::string>() ==
          "(1," + std::to_string(model::vf_all) +
              ",70011,SKU-1,Small,19.99,25.00,3,S,Red,Cotton,0123456789012,-4,"
              "\"2026-01-02 11:00:00+00\")");
    CHECK(variant_rows[1][0].as<std::string>() ==
          "(1," + std::to_string(model::vf_price) + ",70012" + std::string(11, ',') + ")");
  }

  TEST_CASE("a record that does not fit its type is refused before it is sent") {
    db::binary_array array(std::uint32_t{2249}); // record[]
    db::binary_record record(array, 2);
    CHECK_THROWS_AS(record.add(db::pg_element::int4, std::int64_t{1} << 40), std::logic_error);
    record.add(db::pg_element::text, std::string_view("x"));
    CHECK_THROWS_AS(record.finish(), std::logic_error); // one of two columns
    record.add_null(db::pg_element::int8);
    CHECK_THROWS_AS(record.add_null(db::pg_element::int8), std::logic_error); // a third
    record.finish();
    CHECK_THROWS_AS(record.finish(), std::logic_error); // twice
    CHECK(array.size() == 1);
    // The array's header, the element's length, then the record.
    CHECK(array.take().size() == 20 + 4 + 4 + (4 + 4 + 1) + (4 + 4));
  }

  TEST_CASE("a trimmed state that carries only the category takes the category's bit") {
    // The category has bit 10 in the database's numbering: a state that
    // carried it alone took a field, and says so.
    test::test_database db;
    CHECK(db.scalar("select shopify.taken_fields("
                    "'{\"\": [\"-infinity\", \"-infinity\"], "
                    "\"category\": [\"2026-01-02T00:00:00Z\", \"2026-01-02T00:00:01Z\"]}', "
                    "'2026-01-02T00:00:00Z', '2026-01-02T00:00:01Z', "
                    "'{\"category\": []}', '2026-01-02T00:00:00Z', '2026-01-02T00:00:01Z')") ==
          std::to_string(model::pf_category));

    db::delivery_store store(db.settings());
    const auto whole = test::item_from_body(
        "products/update",
        test::product_json(
            {31, "one", "2026-03-01T10:00:00Z", "a", "draft", {{311, "10.00", "S1", 1, 1}}}),
        "c1", "2026-03-01T10:00:01Z");
    const auto category_only = test::item_from_body(
        "products/update",
        R"({"id":31,"updated_at":"2026-03-01T11:00:00Z",)"
        R"("category":{"admin_graphql_api_id":"gid://shopify/TaxonomyCategory/aa-9",)"
        R"("name":"Nine","full_name":"Apparel > Nine"}})",
        "c2", "2026-03-01T11:00:01Z");
    for (const auto& item : {whole, category_only}) {
      const auto outcomes = store.apply(std::span(&item, 1));
      REQUIRE(outcomes.size() == 1);
      CHECK(outcomes[0] == apply_outcome::applied);
    }
    CHECK(db.scalar("select title || ' ' || category_id || ' ' || category_full_name "
                    "from shopify.products where product_id = 31") ==
          "one gid://shopify/TaxonomyCategory/aa-9 Apparel > Nine");
  }

  TEST_CASE("the apply functions of the release before still apply a batch") {
    // A rolling upgrade runs the previous binary against this schema: its
    // parallel arrays (0009_category.sql's signatures) go through wrappers.
    test::test_database db;
    db.execute(
        "select * from shopify.apply_deliveries("
        "array['s'], array['w1'], array['products/update'], array['e'], array['2026-01'], "
        "array[now()], array[now()], array['upsert'], array[5::bigint], array[null], "
        "array[null], array[null::bytea], array['2026-01-01'::timestamptz], "
        "array['2026-01-01 00:00:01'::timestamptz], array[null::timestamptz], array[2047], "
        "array['T'], array['h'], array['v'], array['pt'], array['active'], array['a,b'], "
        "array['<p>'], array['2025-01-01'::timestamptz], array['2026-01-01'::timestamptz], "
        "array[null::timestamptz], array['{\"id\":5}'], array['\\x00'::bytea], "
        "array['gid'], array['Cat'], array['A > Cat'], "
        "array[1], array[2047], array[51::bigint], array['S'], array['VT'], "
        "array[1.5::numeric], array[null::numeric], array[1], array['o1'], array[null::text], "
        "array[null::text], array['bc'], array[3::bigint], array['2026-01-01'::timestamptz])");
    CHECK(db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = 'w1'") ==
          "applied");
    CHECK(db.scalar("select title || ' ' || array_to_string(tags, '/') || ' ' || category_id "
                    "from shopify.products where product_id = 5") == "T a/b gid");
    CHECK(db.scalar("select sku || ' ' || price || ' ' || inventory_quantity "
                    "from shopify.product_variants where variant_id = 51") == "S 1.5 3");

    // And the release before that (0008_compliance.sql's signature, no
    // category), which 0009 kept as a wrapper too.
    db.execute(
        "select * from shopify.apply_deliveries("
        "array['s'], array['w2'], array['products/create'], array['e'], array['2026-01'], "
        "array[now()], array[now()], array['upsert'], array[6::bigint], array[null], "
        "array[null], array[null::bytea], array['2026-01-01'::timestamptz], "
        "array['2026-01-01 00:00:01'::timestamptz], array[null::timestamptz], array[2047], "
        "array['Six'], array['h6'], array['v'], array['pt'], array['active'], array[''], "
        "array['<p>'], array['2025-01-01'::timestamptz], array['2026-01-01'::timestamptz], "
        "array[null::timestamptz], array['{\"id\":6}'], array['\\x00'::bytea], "
        "array[1], array[2047], array[61::bigint], array['S6'], array['VT'], "
        "array[6.5::numeric], array[null::numeric], array[1], array['o1'], array[null::text], "
        "array[null::text], array['bc'], array[6::bigint], array['2026-01-01'::timestamptz])");
    CHECK(db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = 'w2'") ==
          "applied");
    CHECK(db.scalar("select p.title || ' ' || v.sku || ' ' || v.price from shopify.products p "
                    "join shopify.product_variants v using (shop_domain, product_id) "
                    "where product_id = 6") == "Six S6 6.5");

    // The reconcile's, with a newer listing of the same product.
    CHECK(db.scalar("select inserted || ' ' || updated || ' ' || unchanged from "
                    "shopify.reconcile_apply(null, 's', false, array[5::bigint], "
                    "array['2026-01-02'::timestamptz], array['2026-01-02 00:00:01'::timestamptz], "
                    "array[null::timestamptz], array[2047], array['T2'], array['h'], array['v'], "
                    "array['pt'], array['active'], array['a'], array['<p>'], "
                    "array['2025-01-01'::timestamptz], array['2026-01-02'::timestamptz], "
                    "array[null::timestamptz], array['{\"id\":5}'], array['\\x01'::bytea], "
                    "array[null::text], array[null::text], array[null::text], "
                    "array[1], array[2047], array[51::bigint], array['S'], array['VT'], "
                    "array[2.5::numeric], array[null::numeric], array[1], array['o1'], "
                    "array[null::text], array[null::text], array['bc'], array[4::bigint], "
                    "array['2026-01-02'::timestamptz])") == "0 1 0");
    CHECK(db.scalar("select title || ' ' || coalesce(category_id, '-') from shopify.products "
                    "where product_id = 5") == "T2 -");
    CHECK(db.scalar("select price || ' ' || inventory_quantity from shopify.product_variants "
                    "where variant_id = 51") == "2.5 4");
  }
}
