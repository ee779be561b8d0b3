// Listed barcodes against a real PostgreSQL: what put_barcodes writes and
// leaves alone, and what live_variant_barcodes shows as webhooks change a
// variant's first barcode.

#include "db/barcode_store.hpp"
#include "db/delivery_store.hpp"
#include "model/timestamp.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

using namespace shopmirror;

namespace {

const std::string shop = "test-shop.myshopify.com";

/// Product 5 with variants 51 and 52, 52's barcode `barcode` (none if
/// empty), applied as the service applies a webhook.
void webhook(const test::test_database& db, const std::string& updated, const std::string& barcode,
             const std::string& webhook_id) {
  test::product_spec p;
  p.id = 5;
  p.updated_at = updated;
  p.variants = {{51, "1.00", "A", 1, 1}, {52, "2.00", "B", 2, 1}};
  std::string body = test::product_json(p);
  if (!barcode.empty()) {
    const std::string null_barcode = "\"barcode\":null";
    const auto second = body.find(null_barcode, body.find(null_barcode) + 1);
    REQUIRE(second != std::string::npos);
    body.replace(second, null_barcode.size(), "\"barcode\":\"" + barcode + "\"");
  }
  db::delivery_store store(db.settings());
  const auto item = test::item_from_body("products/update", body, webhook_id, updated);
  const auto outcomes = store.apply(std::span(&item, 1));
  REQUIRE(outcomes.size() == 1);
  REQUIRE(model::is_durable(outcomes[0]));
}

model::variant_barcodes listed(std::int64_t variant, std::vector<model::barcode> barcodes) {
  return {5, variant, std::move(barcodes)};
}

std::string shown(const test::test_database& db) {
  return db.scalar("select string_agg(variant_id || '=' || coalesce(barcodes::text, 'unknown'), "
                   "' ' order by variant_id) from shopify.live_variant_barcodes");
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE(
      "listed barcodes are written where they differ and skipped for variants the mirror lacks") {
    test::test_database db;
    webhook(db, "2026-05-01T00:00:00Z", "EAN-1", "w1");
    db::barcode_store store(db.settings());
    const auto t1 = model::now();
    const std::vector<model::variant_barcodes> first{
        listed(51, {}), listed(52, {{"EAN", "EAN-1"}, {std::nullopt, "BIN-4"}}),
        listed(99, {{"UPC", "012345678905"}})};
    const db::barcodes_written w1 = store.put(shop, t1, first);
    CHECK(w1.listed == 3);
    CHECK(w1.written == 2);
    CHECK(w1.unmatched == 1); // variant 99 is not in the mirror
    CHECK(shown(db) ==
          R"(51=[] 52=[{"type": "EAN", "value": "EAN-1"}, {"type": null, "value": "BIN-4"}])");

    // The same listing again writes nothing: the rows keep their time.
    const std::string listed_at =
        db.scalar("select listed_at from shopify.variant_barcodes where variant_id = 52");
    CHECK(store.put(shop, model::now(), first).written == 0);
    CHECK(db.scalar("select listed_at from shopify.variant_barcodes where variant_id = 52") ==
          listed_at);

    // One differs: that one is written. A variant listed twice in a batch
    // keeps the later listing.
    const std::vector<model::variant_barcodes> second{
        listed(52, {{"EAN", "EAN-1"}}), listed(51, {}),
        listed(52, {{"EAN", "EAN-1"}, {"ISBN", "978"}})};
    CHECK(store.put(shop, model::now(), second).written == 1);
    CHECK(shown(db) ==
          R"(51=[] 52=[{"type": "EAN", "value": "EAN-1"}, {"type": "ISBN", "value": "978"}])");
    CHECK(store.put(shop, model::now(), {}).listed == 0);
  }

  TEST_CASE("live_variant_barcodes shows listed barcodes only while webhooks agree on the first") {
    test::test_database db;
    webhook(db, "2026-05-01T00:00:00Z", "EAN-1", "w1");
    // Before any listing: a variant without a barcode has none; one with a
    // barcode may have more.
    CHECK(shown(db) == "51=[] 52=unknown");

    db::barcode_store store(db.settings());
    store.put(shop, model::now(), std::vector{listed(52, {{"EAN", "EAN-1"}, {"UPC", "U-2"}})});
    CHECK(shown(db) ==
          R"(51=[] 52=[{"type": "EAN", "value": "EAN-1"}, {"type": "UPC", "value": "U-2"}])");

    // A webhook with another first barcode: the listing is out of date.
    webhook(db, "2026-05-02T00:00:00Z", "EAN-9", "w2");
    CHECK(shown(db) == "51=[] 52=unknown");
    // And one that removes it: then there are none.
    webhook(db, "2026-05-03T00:00:00Z", "", "w3");
    CHECK(shown(db) == "51=[] 52=[]");

    // A variant that goes takes its row along (a webhook without it, a
    // shop's erasure).
    store.put(shop, model::now(), std::vector{listed(51, {{"UPC", "U-1"}})});
    db.scalar("delete from shopify.product_variants where variant_id = 51 returning 1");
    CHECK(db.scalar("select count(*) from shopify.variant_barcodes where variant_id = 51") == "0");
  }

} // TEST_SUITE
