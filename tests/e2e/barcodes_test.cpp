// Variants' barcodes (API 2026-10) end to end: the real binary's reconcile
// lists them from the Admin API stand-in, by bulk operation and by pages,
// into a real PostgreSQL, and live_variant_barcodes shows them as far as
// the webhooks since then agree.

#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace shopmirror;

namespace {

using test::field;
using test::reconcile_command;
using test::run_line;
using test::spec;
using test::state_of;

/// Every variant of a live product with its barcodes as the mirror shows
/// them: "variant=barcodes-as-json-or-unknown ...".
std::string mirrored(const test::test_database& db) {
  return db.scalar("select string_agg(variant_id || '=' || coalesce(barcodes::text, 'unknown'), "
                   "' ' order by variant_id) from shopify.live_variant_barcodes");
}

/// Product 1 with three variants: 1001 has two barcodes (one of them
/// without a standard), 1002 one (set through `barcode` alone), 1003 none.
void put_catalog(test::admin_api_stand_in& shopify) {
  auto product = state_of(spec(1, "2026-03-01T00:00:00Z", "one", 3));
  product.variants[1].barcode = "4006381333931";
  shopify.put_product(product);
  REQUIRE(shopify.set_barcodes(1, 1001, {{"UPC", "012345678905"}, {std::nullopt, "SHELF-7"}},
                               model::now()));
}

const std::string listed =
    R"(1001=[{"type": "UPC", "value": "012345678905"}, {"type": null, "value": "SHELF-7"}] )"
    R"(1002=[{"type": null, "value": "4006381333931"}] 1003=[])";

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("variants' barcodes are listed into the mirror by bulk and by pages") {
    for (const std::string mode : {"bulk", "paginated"}) {
      CAPTURE(mode);
      test::test_database db;
      test::admin_api_stand_in shopify;
      put_catalog(shopify);

      const auto first = reconcile_command(shopify, db, {}, mode);
      REQUIRE(first.status == 0);
      CHECK(field(run_line(first.output), "status") == "succeeded");
      const std::string done = test::log_line(first.output, "reconcile_barcodes_finished");
      CHECK(field(done, "listed") == "3");
      CHECK(field(done, "written") == "3");
      CHECK(field(done, "unmatched") == "0");
      CHECK(field(done, "failed") == "0");
      CHECK(mirrored(db) == listed);
      if (mode == "bulk") {
        CHECK(shopify.counters().bulk_barcodes_started == 1);
        CHECK(shopify.counters().of("bulk_barcodes_download") == 1);
        CHECK(shopify.counters().of("VariantBarcodesPage") == 0);
      } else {
        CHECK(shopify.counters().bulk_barcodes_started == 0);
        CHECK(shopify.counters().of("VariantBarcodesPage") == 1);
      }

      // Unchanged: listed again, nothing written.
      const auto again = reconcile_command(shopify, db, {}, mode);
      CHECK(field(test::log_line(again.output, "reconcile_barcodes_finished"), "written") == "0");
      CHECK(mirrored(db) == listed);

      // A barcode added behind the first one: `barcode` and the product are
      // unchanged, so no webhook would say so; the next run writes it.
      REQUIRE(shopify.set_barcodes(
          1, 1002, {{std::nullopt, "4006381333931"}, {"EAN", "4006381333948"}}, model::now()));
      const auto changed = reconcile_command(shopify, db, {}, mode);
      CHECK(field(test::log_line(changed.output, "reconcile_barcodes_finished"), "written") == "1");
      CHECK(
          db.scalar("select barcodes::text from shopify.live_variant_barcodes "
                    "where variant_id = 1002") ==
          R"([{"type": null, "value": "4006381333931"}, {"type": "EAN", "value": "4006381333948"}])");
    }
  }

  TEST_CASE("a webhook that changes a variant's first barcode makes its barcodes unknown until the "
            "next listing") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    put_catalog(shopify);
    REQUIRE(reconcile_command(shopify, db).status == 0);
    REQUIRE(mirrored(db) == listed);

    // Shopify's products/update after variant 1001's first barcode changed:
    // the webhook says only `barcode`.
    auto update = spec(1, "2026-03-02T00:00:00Z", "one", 3);
    std::string body = test::product_json(update);
    const std::string null_barcode = "\"barcode\":null";
    body.replace(body.find(null_barcode), null_barcode.size(), "\"barcode\":\"012345678912\"");
    const auto second = body.find(null_barcode);
    body.replace(second, null_barcode.size(), "\"barcode\":\"4006381333931\"");
    {
      test::service_process service(db.url(), {test::reconcile_secret});
      test::send(service.port(), "products/update", body, "barcode-change");
    }
    CHECK(db.scalar("select barcode from shopify.product_variants where variant_id = 1001") ==
          "012345678912");
    CHECK(mirrored(db) ==
          R"(1001=unknown 1002=[{"type": null, "value": "4006381333931"}] 1003=[])");

    // Shopify shows it so too: the next run lists it again.
    REQUIRE(shopify.set_barcodes(1, 1001, {{"UPC", "012345678912"}}, model::now()));
    REQUIRE(reconcile_command(shopify, db).status == 0);
    CHECK(db.scalar("select barcodes::text from shopify.live_variant_barcodes "
                    "where variant_id = 1001") == R"([{"type": "UPC", "value": "012345678912"}])");

    // A variant that goes takes its barcodes with it.
    shopify.put_product(state_of(spec(1, "2026-03-03T00:00:00Z", "one", 1)));
    REQUIRE(reconcile_command(shopify, db).status == 0);
    CHECK(db.scalar("select count(*) from shopify.variant_barcodes") == "1");
  }

  TEST_CASE("no barcodes are listed for an API version without them or by a dry run") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    put_catalog(shopify);

    const auto old_version =
        reconcile_command(shopify, db, {}, "bulk", {{"SHOPMIRROR_API_VERSION", "2026-07"}});
    REQUIRE(old_version.status == 0);
    CHECK(field(run_line(old_version.output), "status") == "succeeded");
    CHECK(old_version.output.find("reconcile_barcodes") == std::string::npos);
    CHECK(shopify.counters().bulk_barcodes_started == 0);
    CHECK(shopify.counters().of("VariantBarcodesPage") == 0);
    CHECK(db.scalar("select count(*) from shopify.variant_barcodes") == "0");
    // What the mirror can say without them: 1002's one barcode is unknown
    // beyond its first, 1003 has none.
    CHECK(mirrored(db) == "1001=unknown 1002=unknown 1003=[]");

    const auto dry = reconcile_command(shopify, db, {"--dry-run"});
    REQUIRE(dry.status == 0);
    CHECK(shopify.counters().bulk_barcodes_started == 0);
    CHECK(db.scalar("select count(*) from shopify.variant_barcodes") == "0");
  }

  TEST_CASE("a barcodes listing that fails leaves the run's products and sweep standing") {
    test::test_database db;
    test::admin_api_stand_in shopify;
    put_catalog(shopify);
    // The products listing's bulk operation completes; the barcodes one fails.
    shopify.on_request([&](std::string_view operation) {
      if (operation == "StartBulkBarcodes") {
        shopify.fail_next_bulk_operation(0.5);
      }
    });
    const auto result = reconcile_command(shopify, db);
    REQUIRE(result.status == 0);
    const std::string run = run_line(result.output);
    CHECK(field(run, "status") == "succeeded");
    CHECK(field(run, "inserted") == "1");
    const std::string failed = test::log_line(result.output, "reconcile_barcodes_failed");
    CHECK(field(failed, "error").find("FAILED") != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.variant_barcodes") == "0");
  }

} // TEST_SUITE
